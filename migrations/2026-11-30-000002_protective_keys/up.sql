-- Adds the protective keys of the first migration to tables that already existed
-- (an adopted cube-studio database). A no-op on a database created by the first migration.

SET @ddl = (SELECT IF(COUNT(*) = 0, 'ALTER TABLE `run` ADD UNIQUE KEY uq_run_pipeline_execution_date (pipeline_id, execution_date)', 'DO 0') FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = 'run' AND index_name = 'uq_run_pipeline_execution_date');
PREPARE stmt FROM @ddl;
EXECUTE stmt;
DEALLOCATE PREPARE stmt;

SET @ddl = (SELECT IF(COUNT(*) = 0, 'ALTER TABLE `run` ADD KEY ix_run_status (status)', 'DO 0') FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = 'run' AND index_name = 'ix_run_status');
PREPARE stmt FROM @ddl;
EXECUTE stmt;
DEALLOCATE PREPARE stmt;

SET @ddl = (SELECT IF(COUNT(*) = 0, 'ALTER TABLE `run` ADD KEY ix_run_run_id (run_id)', 'DO 0') FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = 'run' AND index_name = 'ix_run_run_id');
PREPARE stmt FROM @ddl;
EXECUTE stmt;
DEALLOCATE PREPARE stmt;

SET @ddl = (SELECT IF(COUNT(*) = 0, 'ALTER TABLE `task` ADD UNIQUE KEY uq_task_pipeline_name (pipeline_id, name)', 'DO 0') FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = 'task' AND index_name = 'uq_task_pipeline_name');
PREPARE stmt FROM @ddl;
EXECUTE stmt;
DEALLOCATE PREPARE stmt;

SET @ddl = (SELECT IF(COUNT(*) = 0, 'ALTER TABLE `workflow` ADD UNIQUE KEY uq_workflow_name_namespace (name, namespace)', 'DO 0') FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = 'workflow' AND index_name = 'uq_workflow_name_namespace');
PREPARE stmt FROM @ddl;
EXECUTE stmt;
DEALLOCATE PREPARE stmt;

SET @ddl = (SELECT IF(COUNT(*) = 0, 'ALTER TABLE `workflow` ADD KEY ix_workflow_status (status)', 'DO 0') FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = 'workflow' AND index_name = 'ix_workflow_status');
PREPARE stmt FROM @ddl;
EXECUTE stmt;
DEALLOCATE PREPARE stmt;

SET @ddl = (SELECT IF(COUNT(*) = 0, 'ALTER TABLE `workflow` ADD KEY ix_workflow_foreign_key (foreign_key)', 'DO 0') FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = 'workflow' AND index_name = 'ix_workflow_foreign_key');
PREPARE stmt FROM @ddl;
EXECUTE stmt;
DEALLOCATE PREPARE stmt;

SET @ddl = (SELECT IF(COUNT(*) = 0, 'ALTER TABLE `workflow` ADD KEY ix_workflow_username (username)', 'DO 0') FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = 'workflow' AND index_name = 'ix_workflow_username');
PREPARE stmt FROM @ddl;
EXECUTE stmt;
DEALLOCATE PREPARE stmt;

SET @ddl = (SELECT IF(COUNT(*) = 0, 'ALTER TABLE `logs` ADD KEY ix_logs_dttm (dttm)', 'DO 0') FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = 'logs' AND index_name = 'ix_logs_dttm');
PREPARE stmt FROM @ddl;
EXECUTE stmt;
DEALLOCATE PREPARE stmt;

SET @ddl = (SELECT IF(COUNT(*) = 0, 'ALTER TABLE `pipeline` ADD KEY ix_pipeline_schedule_type (schedule_type)', 'DO 0') FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = 'pipeline' AND index_name = 'ix_pipeline_schedule_type');
PREPARE stmt FROM @ddl;
EXECUTE stmt;
DEALLOCATE PREPARE stmt;

SET @ddl = (SELECT IF(COUNT(*) = 0, 'ALTER TABLE `job_template` ADD KEY ix_job_template_version (version)', 'DO 0') FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = 'job_template' AND index_name = 'ix_job_template_version');
PREPARE stmt FROM @ddl;
EXECUTE stmt;
DEALLOCATE PREPARE stmt;

SET @ddl = (SELECT IF(COUNT(*) = 0, 'ALTER TABLE `project` ADD KEY ix_project_type (type)', 'DO 0') FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = 'project' AND index_name = 'ix_project_type');
PREPARE stmt FROM @ddl;
EXECUTE stmt;
DEALLOCATE PREPARE stmt;

SET @ddl = (SELECT IF(COUNT(*) = 0, 'ALTER TABLE `dataset` ADD KEY ix_dataset_name (name)', 'DO 0') FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = 'dataset' AND index_name = 'ix_dataset_name');
PREPARE stmt FROM @ddl;
EXECUTE stmt;
DEALLOCATE PREPARE stmt;

SET @ddl = (SELECT IF(COUNT(*) = 0, 'ALTER TABLE `model` ADD KEY ix_model_name_version (name, version)', 'DO 0') FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = 'model' AND index_name = 'ix_model_name_version');
PREPARE stmt FROM @ddl;
EXECUTE stmt;
DEALLOCATE PREPARE stmt;
