-- Keys for the scheduler's tick (read every few minutes over every cron run):
--   ix_run_status_pipeline  the active runs of every pipeline, read from the key alone
--   ix_run_status_version   the claimed runs whose launch may have been lost, by claim time
-- Added only when missing, so it is safe on an adopted cube-studio database.

SET @ddl = (SELECT IF(COUNT(*) = 0, 'ALTER TABLE `run` ADD KEY ix_run_status_pipeline (status, pipeline_id, execution_date)', 'DO 0') FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = 'run' AND index_name = 'ix_run_status_pipeline');
PREPARE stmt FROM @ddl;
EXECUTE stmt;
DEALLOCATE PREPARE stmt;

SET @ddl = (SELECT IF(COUNT(*) = 0, 'ALTER TABLE `run` ADD KEY ix_run_status_version (status, version_id)', 'DO 0') FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = 'run' AND index_name = 'ix_run_status_version');
PREPARE stmt FROM @ddl;
EXECUTE stmt;
DEALLOCATE PREPARE stmt;
