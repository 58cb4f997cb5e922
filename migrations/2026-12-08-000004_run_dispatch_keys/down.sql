SET @ddl = (SELECT IF(COUNT(*) > 0, 'ALTER TABLE `run` DROP KEY ix_run_status_pipeline', 'DO 0') FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = 'run' AND index_name = 'ix_run_status_pipeline');
PREPARE stmt FROM @ddl;
EXECUTE stmt;
DEALLOCATE PREPARE stmt;

SET @ddl = (SELECT IF(COUNT(*) > 0, 'ALTER TABLE `run` DROP KEY ix_run_status_version', 'DO 0') FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = 'run' AND index_name = 'ix_run_status_version');
PREPARE stmt FROM @ddl;
EXECUTE stmt;
DEALLOCATE PREPARE stmt;
