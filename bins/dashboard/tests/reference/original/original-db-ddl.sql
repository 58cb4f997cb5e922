-- Schema of the original cube-studio back end (commit b7ed2f08) after its migrations
-- (myapp/create_db.py + 'myapp db upgrade'), on 10.11.19-MariaDB-0+deb12u1.
-- Recorded 2026-12-07T03:10Z by install/compare/dump-original-ddl.sh. No rows except alembic_version.
-- The ab_* ids come from the SEQUENCE objects below: the columns have no DEFAULT and no
-- AUTO_INCREMENT; SQLAlchemy (FAB's Sequence('ab_*_id_seq')) inserts nextval() explicitly.
SET NAMES utf8mb4;
SET FOREIGN_KEY_CHECKS = 0;

DROP SEQUENCE IF EXISTS `ab_permission_id_seq`;
CREATE SEQUENCE `ab_permission_id_seq` start with 1 minvalue 1 maxvalue 9223372036854775806 increment by 1 cache 1000 nocycle ENGINE=InnoDB;

DROP SEQUENCE IF EXISTS `ab_permission_view_id_seq`;
CREATE SEQUENCE `ab_permission_view_id_seq` start with 1 minvalue 1 maxvalue 9223372036854775806 increment by 1 cache 1000 nocycle ENGINE=InnoDB;

DROP SEQUENCE IF EXISTS `ab_permission_view_role_id_seq`;
CREATE SEQUENCE `ab_permission_view_role_id_seq` start with 1 minvalue 1 maxvalue 9223372036854775806 increment by 1 cache 1000 nocycle ENGINE=InnoDB;

DROP SEQUENCE IF EXISTS `ab_register_user_id_seq`;
CREATE SEQUENCE `ab_register_user_id_seq` start with 1 minvalue 1 maxvalue 9223372036854775806 increment by 1 cache 1000 nocycle ENGINE=InnoDB;

DROP SEQUENCE IF EXISTS `ab_role_id_seq`;
CREATE SEQUENCE `ab_role_id_seq` start with 1 minvalue 1 maxvalue 9223372036854775806 increment by 1 cache 1000 nocycle ENGINE=InnoDB;

DROP SEQUENCE IF EXISTS `ab_user_id_seq`;
CREATE SEQUENCE `ab_user_id_seq` start with 1 minvalue 1 maxvalue 9223372036854775806 increment by 1 cache 1000 nocycle ENGINE=InnoDB;

DROP SEQUENCE IF EXISTS `ab_user_role_id_seq`;
CREATE SEQUENCE `ab_user_role_id_seq` start with 1 minvalue 1 maxvalue 9223372036854775806 increment by 1 cache 1000 nocycle ENGINE=InnoDB;

DROP SEQUENCE IF EXISTS `ab_view_menu_id_seq`;
CREATE SEQUENCE `ab_view_menu_id_seq` start with 1 minvalue 1 maxvalue 9223372036854775806 increment by 1 cache 1000 nocycle ENGINE=InnoDB;

DROP TABLE IF EXISTS `ab_permission`;
CREATE TABLE `ab_permission` (
  `id` int(11) NOT NULL,
  `name` varchar(100) NOT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `name` (`name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

DROP TABLE IF EXISTS `ab_permission_view`;
CREATE TABLE `ab_permission_view` (
  `id` int(11) NOT NULL,
  `permission_id` int(11) DEFAULT NULL,
  `view_menu_id` int(11) DEFAULT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `permission_id` (`permission_id`,`view_menu_id`),
  KEY `view_menu_id` (`view_menu_id`),
  CONSTRAINT `ab_permission_view_ibfk_1` FOREIGN KEY (`permission_id`) REFERENCES `ab_permission` (`id`),
  CONSTRAINT `ab_permission_view_ibfk_2` FOREIGN KEY (`view_menu_id`) REFERENCES `ab_view_menu` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

DROP TABLE IF EXISTS `ab_permission_view_role`;
CREATE TABLE `ab_permission_view_role` (
  `id` int(11) NOT NULL,
  `permission_view_id` int(11) DEFAULT NULL,
  `role_id` int(11) DEFAULT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `permission_view_id` (`permission_view_id`,`role_id`),
  KEY `role_id` (`role_id`),
  CONSTRAINT `ab_permission_view_role_ibfk_1` FOREIGN KEY (`permission_view_id`) REFERENCES `ab_permission_view` (`id`),
  CONSTRAINT `ab_permission_view_role_ibfk_2` FOREIGN KEY (`role_id`) REFERENCES `ab_role` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

DROP TABLE IF EXISTS `ab_register_user`;
CREATE TABLE `ab_register_user` (
  `id` int(11) NOT NULL,
  `first_name` varchar(64) NOT NULL,
  `last_name` varchar(64) NOT NULL,
  `username` varchar(64) NOT NULL,
  `password` varchar(256) DEFAULT NULL,
  `email` varchar(64) NOT NULL,
  `registration_date` datetime DEFAULT NULL,
  `registration_hash` varchar(256) DEFAULT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `username` (`username`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

DROP TABLE IF EXISTS `ab_role`;
CREATE TABLE `ab_role` (
  `id` int(11) NOT NULL,
  `name` varchar(64) NOT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `name` (`name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

DROP TABLE IF EXISTS `ab_user`;
CREATE TABLE `ab_user` (
  `id` int(11) NOT NULL,
  `first_name` varchar(64) NOT NULL,
  `last_name` varchar(64) NOT NULL,
  `username` varchar(64) NOT NULL,
  `password` varchar(256) DEFAULT NULL,
  `active` tinyint(1) DEFAULT NULL,
  `email` varchar(320) NOT NULL,
  `last_login` datetime DEFAULT NULL,
  `login_count` int(11) DEFAULT NULL,
  `fail_login_count` int(11) DEFAULT NULL,
  `created_on` datetime DEFAULT NULL,
  `changed_on` datetime DEFAULT NULL,
  `created_by_fk` int(11) DEFAULT NULL,
  `changed_by_fk` int(11) DEFAULT NULL,
  `nickname` varchar(200) DEFAULT NULL,
  `org` varchar(200) DEFAULT NULL,
  `quota` varchar(2000) DEFAULT NULL,
  `balance` text DEFAULT NULL,
  `wechat` varchar(200) DEFAULT NULL,
  `phone` varchar(200) DEFAULT NULL,
  `coupon` text DEFAULT NULL,
  `voucher` text DEFAULT NULL,
  `bill` text DEFAULT NULL,
  `real_name_authentication` text DEFAULT NULL,
  `subaccount` text DEFAULT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `username` (`username`),
  UNIQUE KEY `email` (`email`),
  KEY `created_by_fk` (`created_by_fk`),
  KEY `changed_by_fk` (`changed_by_fk`),
  CONSTRAINT `ab_user_ibfk_1` FOREIGN KEY (`created_by_fk`) REFERENCES `ab_user` (`id`),
  CONSTRAINT `ab_user_ibfk_2` FOREIGN KEY (`changed_by_fk`) REFERENCES `ab_user` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

DROP TABLE IF EXISTS `ab_user_role`;
CREATE TABLE `ab_user_role` (
  `id` int(11) NOT NULL,
  `user_id` int(11) DEFAULT NULL,
  `role_id` int(11) DEFAULT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `user_id` (`user_id`,`role_id`),
  KEY `role_id` (`role_id`),
  CONSTRAINT `ab_user_role_ibfk_1` FOREIGN KEY (`user_id`) REFERENCES `ab_user` (`id`),
  CONSTRAINT `ab_user_role_ibfk_2` FOREIGN KEY (`role_id`) REFERENCES `ab_role` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

DROP TABLE IF EXISTS `ab_view_menu`;
CREATE TABLE `ab_view_menu` (
  `id` int(11) NOT NULL,
  `name` varchar(250) NOT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `name` (`name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

DROP TABLE IF EXISTS `aihub`;
CREATE TABLE `aihub` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `uuid` varchar(2000) DEFAULT NULL,
  `status` varchar(200) DEFAULT NULL,
  `doc` varchar(200) DEFAULT NULL,
  `name` varchar(200) DEFAULT NULL,
  `field` varchar(200) DEFAULT NULL,
  `scenes` varchar(200) DEFAULT NULL,
  `type` varchar(200) DEFAULT NULL,
  `label` varchar(200) DEFAULT NULL,
  `describe` varchar(2000) DEFAULT NULL,
  `source` varchar(200) DEFAULT NULL,
  `pic` varchar(500) DEFAULT NULL,
  `dataset` text DEFAULT NULL,
  `notebook` varchar(2000) DEFAULT NULL,
  `job_template` text DEFAULT NULL,
  `pre_train_model` varchar(2000) DEFAULT NULL,
  `inference` text DEFAULT NULL,
  `service` text DEFAULT NULL,
  `version` varchar(200) DEFAULT NULL,
  `hot` int(11) DEFAULT NULL,
  `price` int(11) DEFAULT NULL,
  `pipeline` text DEFAULT NULL,
  `expand` text DEFAULT NULL,
  `images` varchar(200) DEFAULT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

DROP TABLE IF EXISTS `alembic_version`;
CREATE TABLE `alembic_version` (
  `version_num` varchar(32) NOT NULL,
  PRIMARY KEY (`version_num`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

DROP TABLE IF EXISTS `chat`;
CREATE TABLE `chat` (
  `id` int(11) NOT NULL AUTO_INCREMENT COMMENT 'id主键',
  `name` varchar(200) DEFAULT NULL COMMENT '英文名',
  `icon` text DEFAULT NULL COMMENT '图标svg内容',
  `label` varchar(200) DEFAULT NULL COMMENT '中文名',
  `doc` varchar(200) DEFAULT NULL COMMENT '文档链接',
  `session_num` varchar(200) DEFAULT NULL COMMENT '会话保持的个数，默认为1，只记录当前的会话',
  `chat_type` varchar(200) DEFAULT NULL COMMENT '聊天会话的界面类型 # text文本对话，speech 语音对话，text_speech文本加语音对话，multi_modal多模态对话，digital_human数字人',
  `hello` varchar(200) DEFAULT NULL COMMENT '欢迎语',
  `tips` varchar(4000) DEFAULT NULL COMMENT '提示词数组',
  `knowledge` text DEFAULT NULL COMMENT '加载问题前面的先验知识',
  `prompt` text DEFAULT NULL COMMENT '提示词模板',
  `service_type` varchar(200) DEFAULT NULL COMMENT ' 推理服务的类型   [chatgpt,gptglm]',
  `service_config` text DEFAULT NULL COMMENT '推理服务的配置，url  header  json等',
  `owner` varchar(2000) DEFAULT NULL COMMENT '可访问用户，* 表示所有用户',
  `expand` text DEFAULT NULL COMMENT '扩展参数',
  PRIMARY KEY (`id`),
  UNIQUE KEY `name` (`name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

DROP TABLE IF EXISTS `chat_log`;
CREATE TABLE `chat_log` (
  `id` int(11) NOT NULL AUTO_INCREMENT COMMENT 'id主键',
  `username` varchar(400) NOT NULL COMMENT '用户名',
  `chat_id` int(11) DEFAULT NULL COMMENT '场景id',
  `query` varchar(5000) NOT NULL COMMENT '问题',
  `answer` varchar(5000) NOT NULL COMMENT '回答',
  `manual_feedback` varchar(400) NOT NULL COMMENT '反馈',
  `answer_status` varchar(400) NOT NULL COMMENT '回答状态',
  `answer_cost` varchar(400) NOT NULL COMMENT '话费时长',
  `err_msg` text DEFAULT NULL COMMENT '报错消息',
  `created_on` datetime DEFAULT NULL COMMENT '创建时间',
  `changed_on` datetime DEFAULT NULL COMMENT '修改时间',
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

DROP TABLE IF EXISTS `dataset`;
CREATE TABLE `dataset` (
  `created_on` datetime DEFAULT NULL,
  `changed_on` datetime DEFAULT NULL,
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `name` varchar(200) DEFAULT NULL,
  `label` varchar(200) DEFAULT NULL,
  `describe` varchar(2000) DEFAULT NULL,
  `source_type` varchar(200) DEFAULT NULL,
  `source` varchar(200) DEFAULT NULL,
  `industry` varchar(200) DEFAULT NULL,
  `icon` text DEFAULT NULL COMMENT '数据集预览图片',
  `field` varchar(200) DEFAULT NULL,
  `usage` varchar(200) DEFAULT NULL,
  `research` varchar(200) DEFAULT NULL,
  `storage_class` varchar(200) DEFAULT NULL,
  `file_type` varchar(200) DEFAULT NULL,
  `status` varchar(200) DEFAULT NULL,
  `years` varchar(200) DEFAULT NULL,
  `url` varchar(1000) DEFAULT NULL,
  `path` varchar(400) DEFAULT NULL,
  `download_url` varchar(1000) DEFAULT NULL,
  `storage_size` varchar(200) DEFAULT NULL,
  `entries_num` varchar(200) DEFAULT NULL,
  `duration` varchar(200) DEFAULT NULL,
  `price` varchar(200) DEFAULT NULL,
  `owner` varchar(200) DEFAULT NULL,
  `expand` mediumtext DEFAULT NULL,
  `created_by_fk` int(11) DEFAULT NULL,
  `changed_by_fk` int(11) DEFAULT NULL,
  `doc` varchar(200) DEFAULT NULL,
  `features` text DEFAULT NULL,
  `info` text DEFAULT NULL,
  `metric_info` text DEFAULT NULL,
  `secret` varchar(200) DEFAULT NULL,
  `segment` text DEFAULT NULL,
  `split` varchar(200) DEFAULT NULL,
  `subdataset` varchar(200) DEFAULT NULL,
  `version` varchar(200) DEFAULT NULL,
  PRIMARY KEY (`id`),
  KEY `changed_by_fk` (`changed_by_fk`),
  KEY `created_by_fk` (`created_by_fk`),
  CONSTRAINT `dataset_ibfk_1` FOREIGN KEY (`changed_by_fk`) REFERENCES `ab_user` (`id`),
  CONSTRAINT `dataset_ibfk_2` FOREIGN KEY (`created_by_fk`) REFERENCES `ab_user` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

DROP TABLE IF EXISTS `dimension`;
CREATE TABLE `dimension` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `sqllchemy_uri` varchar(255) DEFAULT NULL,
  `table_name` varchar(255) DEFAULT NULL,
  `label` varchar(255) DEFAULT NULL,
  `describe` varchar(2000) DEFAULT NULL,
  `app` varchar(255) DEFAULT NULL,
  `owner` varchar(2000) DEFAULT NULL,
  `columns` text DEFAULT NULL,
  `status` int(11) DEFAULT NULL,
  `expand` mediumtext DEFAULT NULL COMMENT '扩展参数',
  PRIMARY KEY (`id`),
  UNIQUE KEY `table_name` (`table_name`),
  UNIQUE KEY `sqllchemy_uri` (`sqllchemy_uri`,`table_name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

DROP TABLE IF EXISTS `docker`;
CREATE TABLE `docker` (
  `created_on` datetime DEFAULT NULL,
  `changed_on` datetime DEFAULT NULL,
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `describe` varchar(200) DEFAULT NULL,
  `base_image` varchar(200) DEFAULT NULL,
  `target_image` varchar(200) DEFAULT NULL,
  `consecutive_build` tinyint(1) DEFAULT NULL,
  `created_by_fk` int(11) DEFAULT NULL,
  `changed_by_fk` int(11) DEFAULT NULL,
  `expand` mediumtext DEFAULT NULL,
  `last_image` varchar(200) DEFAULT NULL,
  `need_gpu` tinyint(1) DEFAULT NULL,
  `project_id` int(11) NOT NULL,
  `namespace` varchar(200) DEFAULT 'jupyter' COMMENT '命名空间',
  PRIMARY KEY (`id`),
  KEY `changed_by_fk` (`changed_by_fk`),
  KEY `created_by_fk` (`created_by_fk`),
  KEY `project_id` (`project_id`),
  CONSTRAINT `docker_ibfk_1` FOREIGN KEY (`changed_by_fk`) REFERENCES `ab_user` (`id`),
  CONSTRAINT `docker_ibfk_2` FOREIGN KEY (`created_by_fk`) REFERENCES `ab_user` (`id`),
  CONSTRAINT `docker_ibfk_3` FOREIGN KEY (`project_id`) REFERENCES `project` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

DROP TABLE IF EXISTS `etl_pipeline`;
CREATE TABLE `etl_pipeline` (
  `created_on` datetime DEFAULT NULL,
  `changed_on` datetime DEFAULT NULL,
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `name` varchar(100) NOT NULL,
  `describe` varchar(200) NOT NULL,
  `project_id` int(11) NOT NULL,
  `dag_json` mediumtext DEFAULT NULL,
  `config` mediumtext DEFAULT NULL,
  `expand` mediumtext DEFAULT NULL,
  `created_by_fk` int(11) DEFAULT NULL,
  `changed_by_fk` int(11) DEFAULT NULL,
  `workflow` varchar(200) DEFAULT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `name` (`name`),
  KEY `changed_by_fk` (`changed_by_fk`),
  KEY `created_by_fk` (`created_by_fk`),
  KEY `project_id` (`project_id`),
  CONSTRAINT `etl_pipeline_ibfk_1` FOREIGN KEY (`changed_by_fk`) REFERENCES `ab_user` (`id`),
  CONSTRAINT `etl_pipeline_ibfk_2` FOREIGN KEY (`created_by_fk`) REFERENCES `ab_user` (`id`),
  CONSTRAINT `etl_pipeline_ibfk_3` FOREIGN KEY (`project_id`) REFERENCES `project` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

DROP TABLE IF EXISTS `etl_task`;
CREATE TABLE `etl_task` (
  `created_on` datetime DEFAULT NULL,
  `changed_on` datetime DEFAULT NULL,
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `name` varchar(100) NOT NULL,
  `describe` varchar(200) NOT NULL,
  `etl_pipeline_id` int(11) DEFAULT NULL,
  `template` varchar(100) NOT NULL,
  `task_args` mediumtext DEFAULT NULL,
  `etl_task_id` varchar(100) NOT NULL,
  `expand` mediumtext DEFAULT NULL,
  `created_by_fk` int(11) DEFAULT NULL,
  `changed_by_fk` int(11) DEFAULT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `name` (`name`),
  KEY `changed_by_fk` (`changed_by_fk`),
  KEY `created_by_fk` (`created_by_fk`),
  KEY `etl_pipeline_id` (`etl_pipeline_id`),
  CONSTRAINT `etl_task_ibfk_1` FOREIGN KEY (`changed_by_fk`) REFERENCES `ab_user` (`id`),
  CONSTRAINT `etl_task_ibfk_2` FOREIGN KEY (`created_by_fk`) REFERENCES `ab_user` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

DROP TABLE IF EXISTS `favorite`;
CREATE TABLE `favorite` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `model_name` varchar(100) NOT NULL,
  `row_id` varchar(500) NOT NULL,
  `user_id` int(11) DEFAULT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `model_name` (`model_name`,`row_id`,`user_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

DROP TABLE IF EXISTS `images`;
CREATE TABLE `images` (
  `created_on` datetime DEFAULT NULL,
  `changed_on` datetime DEFAULT NULL,
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `project_id` int(11) DEFAULT NULL,
  `name` varchar(500) NOT NULL COMMENT '英文名',
  `describe` varchar(1000) NOT NULL COMMENT '描述',
  `repository_id` int(11) DEFAULT NULL,
  `entrypoint` varchar(2000) DEFAULT NULL,
  `dockerfile` text DEFAULT NULL,
  `gitpath` varchar(200) DEFAULT NULL,
  `created_by_fk` int(11) DEFAULT NULL,
  `changed_by_fk` int(11) DEFAULT NULL,
  PRIMARY KEY (`id`),
  KEY `changed_by_fk` (`changed_by_fk`),
  KEY `created_by_fk` (`created_by_fk`),
  KEY `project_id` (`project_id`),
  KEY `repository_id` (`repository_id`),
  CONSTRAINT `images_ibfk_1` FOREIGN KEY (`changed_by_fk`) REFERENCES `ab_user` (`id`),
  CONSTRAINT `images_ibfk_2` FOREIGN KEY (`created_by_fk`) REFERENCES `ab_user` (`id`),
  CONSTRAINT `images_ibfk_3` FOREIGN KEY (`project_id`) REFERENCES `project` (`id`),
  CONSTRAINT `images_ibfk_4` FOREIGN KEY (`repository_id`) REFERENCES `repository` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

DROP TABLE IF EXISTS `inferenceservice`;
CREATE TABLE `inferenceservice` (
  `created_on` datetime DEFAULT NULL,
  `changed_on` datetime DEFAULT NULL,
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `project_id` int(11) DEFAULT NULL,
  `name` varchar(100) DEFAULT NULL,
  `label` varchar(100) NOT NULL,
  `service_type` varchar(100) DEFAULT NULL,
  `model_name` varchar(200) DEFAULT NULL,
  `model_version` varchar(200) DEFAULT NULL,
  `model_path` varchar(200) DEFAULT NULL,
  `model_type` varchar(200) DEFAULT NULL,
  `model_input` mediumtext DEFAULT NULL,
  `model_output` mediumtext DEFAULT NULL,
  `model_status` varchar(200) DEFAULT NULL,
  `transformer` varchar(200) DEFAULT NULL,
  `images` varchar(200) NOT NULL,
  `working_dir` varchar(100) DEFAULT NULL,
  `command` varchar(1000) DEFAULT NULL,
  `args` text DEFAULT NULL,
  `env` text DEFAULT NULL,
  `volume_mount` varchar(2000) DEFAULT NULL COMMENT '挂载',
  `node_selector` varchar(100) DEFAULT NULL,
  `min_replicas` int(11) DEFAULT NULL,
  `max_replicas` int(11) DEFAULT NULL,
  `hpa` varchar(400) DEFAULT NULL,
  `metrics` mediumtext DEFAULT NULL,
  `health` varchar(400) DEFAULT NULL,
  `sidecar` varchar(400) DEFAULT NULL,
  `ports` varchar(100) DEFAULT NULL,
  `resource_memory` varchar(100) DEFAULT NULL,
  `resource_cpu` varchar(100) DEFAULT NULL,
  `resource_gpu` varchar(100) DEFAULT NULL,
  `deploy_time` varchar(100) DEFAULT NULL,
  `host` varchar(200) DEFAULT NULL,
  `expand` mediumtext DEFAULT NULL,
  `canary` varchar(400) DEFAULT NULL,
  `shadow` varchar(400) DEFAULT NULL,
  `run_id` varchar(100) DEFAULT NULL,
  `run_time` varchar(100) DEFAULT NULL,
  `deploy_history` mediumtext DEFAULT NULL,
  `created_by_fk` int(11) DEFAULT NULL,
  `changed_by_fk` int(11) DEFAULT NULL,
  `inference_config` mediumtext DEFAULT NULL,
  `priority` int(11) DEFAULT NULL,
  `cronhpa` varchar(400) DEFAULT NULL COMMENT '定时伸缩',
  `namespace` varchar(200) DEFAULT 'service' COMMENT '命名空间',
  PRIMARY KEY (`id`),
  UNIQUE KEY `name` (`name`),
  KEY `changed_by_fk` (`changed_by_fk`),
  KEY `created_by_fk` (`created_by_fk`),
  KEY `project_id` (`project_id`),
  CONSTRAINT `inferenceservice_ibfk_1` FOREIGN KEY (`changed_by_fk`) REFERENCES `ab_user` (`id`),
  CONSTRAINT `inferenceservice_ibfk_2` FOREIGN KEY (`created_by_fk`) REFERENCES `ab_user` (`id`),
  CONSTRAINT `inferenceservice_ibfk_3` FOREIGN KEY (`project_id`) REFERENCES `project` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

DROP TABLE IF EXISTS `job_template`;
CREATE TABLE `job_template` (
  `created_on` datetime DEFAULT NULL,
  `changed_on` datetime DEFAULT NULL,
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `project_id` int(11) DEFAULT NULL,
  `name` varchar(500) NOT NULL COMMENT '英文名',
  `version` enum('Release','Alpha') NOT NULL,
  `images_id` int(11) DEFAULT NULL,
  `host_aliases` text DEFAULT NULL COMMENT '域名映射',
  `describe` varchar(500) NOT NULL COMMENT '描述',
  `workdir` varchar(400) DEFAULT NULL,
  `entrypoint` varchar(2000) DEFAULT NULL,
  `args` text DEFAULT NULL,
  `env` text DEFAULT NULL,
  `volume_mount` varchar(2000) DEFAULT NULL COMMENT '强制必须挂载',
  `privileged` tinyint(1) DEFAULT NULL,
  `accounts` varchar(100) DEFAULT NULL,
  `demo` text DEFAULT NULL,
  `expand` mediumtext DEFAULT NULL,
  `created_by_fk` int(11) DEFAULT NULL,
  `changed_by_fk` int(11) DEFAULT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `name` (`name`),
  KEY `changed_by_fk` (`changed_by_fk`),
  KEY `created_by_fk` (`created_by_fk`),
  KEY `images_id` (`images_id`),
  KEY `project_id` (`project_id`),
  CONSTRAINT `job_template_ibfk_1` FOREIGN KEY (`changed_by_fk`) REFERENCES `ab_user` (`id`),
  CONSTRAINT `job_template_ibfk_2` FOREIGN KEY (`created_by_fk`) REFERENCES `ab_user` (`id`),
  CONSTRAINT `job_template_ibfk_3` FOREIGN KEY (`images_id`) REFERENCES `images` (`id`),
  CONSTRAINT `job_template_ibfk_4` FOREIGN KEY (`project_id`) REFERENCES `project` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

DROP TABLE IF EXISTS `logs`;
CREATE TABLE `logs` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `user_id` int(11) DEFAULT NULL,
  `action` varchar(512) DEFAULT NULL,
  `method` varchar(50) DEFAULT NULL,
  `path` varchar(200) DEFAULT NULL,
  `status` int(11) DEFAULT NULL,
  `json` text DEFAULT NULL,
  `dttm` datetime DEFAULT NULL,
  `duration_ms` int(11) DEFAULT NULL,
  `referrer` varchar(1024) DEFAULT NULL,
  PRIMARY KEY (`id`),
  KEY `user_id` (`user_id`),
  CONSTRAINT `logs_ibfk_1` FOREIGN KEY (`user_id`) REFERENCES `ab_user` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

DROP TABLE IF EXISTS `metadata_metric`;
CREATE TABLE `metadata_metric` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `app` varchar(100) NOT NULL,
  `name` varchar(300) DEFAULT NULL,
  `label` varchar(300) DEFAULT NULL,
  `describe` varchar(500) NOT NULL,
  `caliber` mediumtext DEFAULT NULL,
  `metric_type` varchar(100) DEFAULT NULL,
  `metric_level` varchar(100) DEFAULT NULL,
  `metric_dim` varchar(100) DEFAULT NULL,
  `metric_data_type` varchar(100) DEFAULT NULL,
  `metric_responsible` varchar(200) DEFAULT NULL,
  `status` varchar(100) DEFAULT NULL,
  `task_id` varchar(200) DEFAULT NULL,
  `public` tinyint(1) DEFAULT NULL,
  `expand` mediumtext DEFAULT NULL,
  `remark` mediumtext DEFAULT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

DROP TABLE IF EXISTS `metadata_table`;
CREATE TABLE `metadata_table` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `node_id` varchar(200) DEFAULT NULL,
  `app` varchar(200) DEFAULT NULL,
  `c_org_fullname` varchar(255) DEFAULT NULL,
  `db` varchar(200) DEFAULT NULL,
  `table` varchar(400) DEFAULT NULL,
  `metadata_column` text DEFAULT NULL,
  `describe` varchar(200) DEFAULT NULL,
  `owner` varchar(200) DEFAULT NULL,
  `lifecycle` int(11) DEFAULT NULL,
  `rec_lifecycle` int(11) DEFAULT NULL,
  `storage_size` varchar(200) DEFAULT NULL,
  `storage_cost` float DEFAULT NULL,
  `visits_seven` int(11) DEFAULT NULL,
  `visits_thirty` bigint(20) DEFAULT NULL,
  `visits_sixty` bigint(20) DEFAULT NULL,
  `recent_visit` date DEFAULT NULL,
  `partition_start` varchar(255) DEFAULT NULL,
  `partition_end` varchar(255) DEFAULT NULL,
  `status` varchar(255) DEFAULT NULL,
  `creator` varchar(255) DEFAULT NULL,
  `create_table_ddl` text DEFAULT NULL,
  `col_info` text DEFAULT NULL,
  `partition_update_mode` int(11) DEFAULT NULL,
  `is_privilege` int(11) NOT NULL,
  `data_source` int(11) DEFAULT NULL,
  `field` varchar(200) DEFAULT NULL,
  `security_level` varchar(200) DEFAULT NULL,
  `value_score` varchar(200) DEFAULT NULL,
  `warehouse_level` varchar(200) DEFAULT NULL,
  `ttl` varchar(200) DEFAULT NULL,
  `expand` mediumtext DEFAULT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

DROP TABLE IF EXISTS `model`;
CREATE TABLE `model` (
  `created_on` datetime DEFAULT NULL,
  `changed_on` datetime DEFAULT NULL,
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `name` varchar(100) NOT NULL,
  `version` varchar(100) DEFAULT NULL,
  `describe` varchar(1000) DEFAULT NULL,
  `path` varchar(200) DEFAULT NULL,
  `download_url` varchar(200) DEFAULT NULL,
  `project_id` int(11) DEFAULT NULL,
  `pipeline_id` int(11) DEFAULT NULL,
  `run_id` varchar(100) NOT NULL,
  `run_time` varchar(100) DEFAULT NULL,
  `framework` varchar(100) DEFAULT NULL,
  `metrics` text DEFAULT NULL,
  `md5` varchar(200) DEFAULT NULL,
  `api_type` varchar(100) DEFAULT NULL,
  `created_by_fk` int(11) DEFAULT NULL,
  `changed_by_fk` int(11) DEFAULT NULL,
  `expand` mediumtext DEFAULT NULL COMMENT '扩展参数',
  PRIMARY KEY (`id`),
  KEY `changed_by_fk` (`changed_by_fk`),
  KEY `created_by_fk` (`created_by_fk`),
  KEY `project_id` (`project_id`),
  CONSTRAINT `model_ibfk_1` FOREIGN KEY (`changed_by_fk`) REFERENCES `ab_user` (`id`),
  CONSTRAINT `model_ibfk_2` FOREIGN KEY (`created_by_fk`) REFERENCES `ab_user` (`id`),
  CONSTRAINT `model_ibfk_3` FOREIGN KEY (`project_id`) REFERENCES `project` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

DROP TABLE IF EXISTS `nni`;
CREATE TABLE `nni` (
  `created_on` datetime DEFAULT NULL,
  `changed_on` datetime DEFAULT NULL,
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `job_type` enum('Job') DEFAULT NULL,
  `project_id` int(11) NOT NULL,
  `name` varchar(200) NOT NULL,
  `namespace` varchar(200) DEFAULT NULL,
  `describe` text DEFAULT NULL,
  `parallel_trial_count` int(11) DEFAULT NULL,
  `max_exec_duration` int(11) DEFAULT NULL COMMENT '最大执行时长',
  `max_trial_count` int(11) DEFAULT NULL,
  `max_failed_trial_count` int(11) DEFAULT NULL,
  `objective_type` enum('maximize','minimize') NOT NULL,
  `objective_goal` float NOT NULL,
  `objective_metric_name` varchar(200) NOT NULL,
  `objective_additional_metric_names` varchar(200) DEFAULT NULL,
  `algorithm_name` varchar(200) NOT NULL,
  `algorithm_setting` text DEFAULT NULL,
  `parameters` text DEFAULT NULL,
  `job_json` text DEFAULT NULL,
  `trial_spec` text DEFAULT NULL,
  `working_dir` varchar(200) DEFAULT NULL,
  `volume_mount` varchar(100) DEFAULT NULL,
  `node_selector` varchar(100) DEFAULT NULL,
  `image_pull_policy` enum('Always','IfNotPresent') NOT NULL,
  `resource_memory` varchar(100) DEFAULT NULL,
  `resource_cpu` varchar(100) DEFAULT NULL,
  `resource_gpu` varchar(100) DEFAULT NULL,
  `experiment` text DEFAULT NULL,
  `alert_status` varchar(100) DEFAULT NULL,
  `created_by_fk` int(11) DEFAULT NULL,
  `changed_by_fk` int(11) DEFAULT NULL,
  `job_worker_command` varchar(200) DEFAULT NULL,
  `job_worker_image` varchar(200) DEFAULT NULL,
  `parallel_trial_type` varchar(100) DEFAULT NULL COMMENT '并行方式',
  `expand` mediumtext DEFAULT NULL COMMENT '扩展参数',
  PRIMARY KEY (`id`),
  UNIQUE KEY `name` (`name`),
  KEY `changed_by_fk` (`changed_by_fk`),
  KEY `created_by_fk` (`created_by_fk`),
  KEY `project_id` (`project_id`),
  CONSTRAINT `nni_ibfk_1` FOREIGN KEY (`changed_by_fk`) REFERENCES `ab_user` (`id`),
  CONSTRAINT `nni_ibfk_2` FOREIGN KEY (`created_by_fk`) REFERENCES `ab_user` (`id`),
  CONSTRAINT `nni_ibfk_3` FOREIGN KEY (`project_id`) REFERENCES `project` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

DROP TABLE IF EXISTS `notebook`;
CREATE TABLE `notebook` (
  `created_on` datetime DEFAULT NULL,
  `changed_on` datetime DEFAULT NULL,
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `project_id` int(11) NOT NULL,
  `name` varchar(200) DEFAULT NULL,
  `describe` varchar(200) DEFAULT NULL COMMENT '描述',
  `namespace` varchar(200) DEFAULT NULL,
  `images` varchar(1000) DEFAULT NULL COMMENT '镜像',
  `ide_type` varchar(100) DEFAULT NULL COMMENT 'ide类型',
  `working_dir` varchar(200) DEFAULT NULL,
  `volume_mount` varchar(400) DEFAULT NULL,
  `node_selector` varchar(200) DEFAULT NULL,
  `image_pull_policy` enum('Always','IfNotPresent') DEFAULT NULL,
  `resource_memory` varchar(100) DEFAULT NULL,
  `resource_cpu` varchar(100) DEFAULT NULL,
  `resource_gpu` varchar(100) DEFAULT NULL,
  `created_by_fk` int(11) DEFAULT NULL,
  `changed_by_fk` int(11) DEFAULT NULL,
  `expand` mediumtext DEFAULT NULL,
  `env` varchar(400) DEFAULT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `name` (`name`),
  KEY `changed_by_fk` (`changed_by_fk`),
  KEY `created_by_fk` (`created_by_fk`),
  KEY `project_id` (`project_id`),
  CONSTRAINT `notebook_ibfk_1` FOREIGN KEY (`changed_by_fk`) REFERENCES `ab_user` (`id`),
  CONSTRAINT `notebook_ibfk_2` FOREIGN KEY (`created_by_fk`) REFERENCES `ab_user` (`id`),
  CONSTRAINT `notebook_ibfk_3` FOREIGN KEY (`project_id`) REFERENCES `project` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

DROP TABLE IF EXISTS `pipeline`;
CREATE TABLE `pipeline` (
  `created_on` datetime DEFAULT NULL,
  `changed_on` datetime DEFAULT NULL,
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `name` varchar(100) NOT NULL,
  `describe` varchar(200) NOT NULL,
  `project_id` int(11) NOT NULL,
  `dag_json` text NOT NULL,
  `namespace` varchar(100) DEFAULT NULL,
  `global_env` varchar(500) DEFAULT NULL,
  `schedule_type` enum('once','crontab') NOT NULL,
  `cron_time` varchar(100) DEFAULT NULL,
  `pipeline_file` mediumtext DEFAULT NULL,
  `pipeline_argo_id` varchar(100) DEFAULT NULL,
  `version_id` varchar(100) DEFAULT NULL,
  `run_id` varchar(100) DEFAULT NULL,
  `node_selector` varchar(100) DEFAULT NULL,
  `image_pull_policy` enum('Always','IfNotPresent') NOT NULL,
  `parallelism` int(11) NOT NULL,
  `alert_status` varchar(100) DEFAULT NULL,
  `alert_user` varchar(300) DEFAULT NULL,
  `expand` mediumtext DEFAULT NULL,
  `created_by_fk` int(11) DEFAULT NULL,
  `changed_by_fk` int(11) DEFAULT NULL,
  `depends_on_past` tinyint(1) DEFAULT NULL,
  `max_active_runs` int(11) NOT NULL,
  `parameter` mediumtext DEFAULT NULL,
  `expired_limit` int(11) NOT NULL,
  `cronjob_start_time` varchar(300) DEFAULT NULL,
  `priority` varchar(100) DEFAULT NULL COMMENT '优先级',
  `type` varchar(100) DEFAULT 'pipeline' COMMENT '任务流类型',
  PRIMARY KEY (`id`),
  UNIQUE KEY `name` (`name`),
  KEY `changed_by_fk` (`changed_by_fk`),
  KEY `created_by_fk` (`created_by_fk`),
  KEY `project_id` (`project_id`),
  CONSTRAINT `pipeline_ibfk_1` FOREIGN KEY (`changed_by_fk`) REFERENCES `ab_user` (`id`),
  CONSTRAINT `pipeline_ibfk_2` FOREIGN KEY (`created_by_fk`) REFERENCES `ab_user` (`id`),
  CONSTRAINT `pipeline_ibfk_3` FOREIGN KEY (`project_id`) REFERENCES `project` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

DROP TABLE IF EXISTS `project`;
CREATE TABLE `project` (
  `created_on` datetime DEFAULT NULL,
  `changed_on` datetime DEFAULT NULL,
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `name` varchar(50) NOT NULL,
  `describe` varchar(500) NOT NULL COMMENT '描述',
  `type` varchar(50) DEFAULT NULL,
  `expand` mediumtext DEFAULT NULL,
  `created_by_fk` int(11) DEFAULT NULL,
  `changed_by_fk` int(11) DEFAULT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `name` (`name`,`type`),
  KEY `changed_by_fk` (`changed_by_fk`),
  KEY `created_by_fk` (`created_by_fk`),
  CONSTRAINT `project_ibfk_1` FOREIGN KEY (`changed_by_fk`) REFERENCES `ab_user` (`id`),
  CONSTRAINT `project_ibfk_2` FOREIGN KEY (`created_by_fk`) REFERENCES `ab_user` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

DROP TABLE IF EXISTS `project_user`;
CREATE TABLE `project_user` (
  `created_on` datetime DEFAULT NULL,
  `changed_on` datetime DEFAULT NULL,
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `project_id` int(11) NOT NULL,
  `user_id` int(11) NOT NULL,
  `role` enum('dev','ops','creator') NOT NULL,
  `created_by_fk` int(11) DEFAULT NULL,
  `changed_by_fk` int(11) DEFAULT NULL,
  `quota` varchar(2000) DEFAULT NULL COMMENT '用户在该项目中可以使用的资源额度',
  `org` varchar(200) DEFAULT NULL COMMENT '用户成员可用资源组',
  `expand` mediumtext DEFAULT NULL COMMENT '扩展参数',
  PRIMARY KEY (`id`),
  UNIQUE KEY `project_id` (`project_id`,`user_id`),
  KEY `changed_by_fk` (`changed_by_fk`),
  KEY `created_by_fk` (`created_by_fk`),
  KEY `user_id` (`user_id`),
  CONSTRAINT `project_user_ibfk_1` FOREIGN KEY (`changed_by_fk`) REFERENCES `ab_user` (`id`),
  CONSTRAINT `project_user_ibfk_2` FOREIGN KEY (`created_by_fk`) REFERENCES `ab_user` (`id`),
  CONSTRAINT `project_user_ibfk_3` FOREIGN KEY (`project_id`) REFERENCES `project` (`id`),
  CONSTRAINT `project_user_ibfk_4` FOREIGN KEY (`user_id`) REFERENCES `ab_user` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

DROP TABLE IF EXISTS `repository`;
CREATE TABLE `repository` (
  `created_on` datetime DEFAULT NULL,
  `changed_on` datetime DEFAULT NULL,
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `name` varchar(200) NOT NULL COMMENT '英文名',
  `server` varchar(200) NOT NULL COMMENT '仓库地址',
  `user` varchar(100) NOT NULL,
  `password` varchar(100) NOT NULL,
  `hubsecret` varchar(100) DEFAULT NULL,
  `created_by_fk` int(11) DEFAULT NULL,
  `changed_by_fk` int(11) DEFAULT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `name` (`name`),
  KEY `changed_by_fk` (`changed_by_fk`),
  KEY `created_by_fk` (`created_by_fk`),
  CONSTRAINT `repository_ibfk_1` FOREIGN KEY (`changed_by_fk`) REFERENCES `ab_user` (`id`),
  CONSTRAINT `repository_ibfk_2` FOREIGN KEY (`created_by_fk`) REFERENCES `ab_user` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

DROP TABLE IF EXISTS `run`;
CREATE TABLE `run` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `pipeline_id` int(11) DEFAULT NULL,
  `pipeline_file` mediumtext DEFAULT NULL,
  `pipeline_argo_id` varchar(100) DEFAULT NULL,
  `version_id` varchar(100) DEFAULT NULL,
  `experiment_id` varchar(100) DEFAULT NULL,
  `run_id` varchar(100) DEFAULT NULL,
  `message` text DEFAULT NULL,
  `created_on` datetime NOT NULL,
  `execution_date` varchar(200) NOT NULL COMMENT '执行时间',
  `status` varchar(100) DEFAULT NULL,
  PRIMARY KEY (`id`),
  KEY `pipeline_id` (`pipeline_id`),
  CONSTRAINT `run_ibfk_1` FOREIGN KEY (`pipeline_id`) REFERENCES `pipeline` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

DROP TABLE IF EXISTS `service`;
CREATE TABLE `service` (
  `created_on` datetime DEFAULT NULL,
  `changed_on` datetime DEFAULT NULL,
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `project_id` int(11) DEFAULT NULL,
  `name` varchar(100) NOT NULL,
  `label` varchar(100) NOT NULL,
  `images` varchar(200) NOT NULL,
  `working_dir` varchar(100) DEFAULT NULL,
  `command` varchar(1000) DEFAULT NULL,
  `args` text DEFAULT NULL,
  `env` text DEFAULT NULL,
  `volume_mount` varchar(2000) DEFAULT NULL COMMENT '挂载',
  `node_selector` varchar(100) DEFAULT NULL,
  `ports` varchar(100) DEFAULT NULL,
  `resource_memory` varchar(100) DEFAULT NULL,
  `resource_cpu` varchar(100) DEFAULT NULL,
  `resource_gpu` varchar(100) DEFAULT NULL,
  `deploy_time` varchar(100) NOT NULL,
  `host` varchar(200) DEFAULT NULL,
  `created_by_fk` int(11) DEFAULT NULL,
  `changed_by_fk` int(11) DEFAULT NULL,
  `expand` mediumtext DEFAULT NULL,
  `replicas` int(11) DEFAULT NULL,
  `namespace` varchar(200) DEFAULT 'service' COMMENT '命名空间',
  PRIMARY KEY (`id`),
  UNIQUE KEY `name` (`name`),
  KEY `changed_by_fk` (`changed_by_fk`),
  KEY `created_by_fk` (`created_by_fk`),
  KEY `project_id` (`project_id`),
  CONSTRAINT `service_ibfk_1` FOREIGN KEY (`changed_by_fk`) REFERENCES `ab_user` (`id`),
  CONSTRAINT `service_ibfk_2` FOREIGN KEY (`created_by_fk`) REFERENCES `ab_user` (`id`),
  CONSTRAINT `service_ibfk_3` FOREIGN KEY (`project_id`) REFERENCES `project` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

DROP TABLE IF EXISTS `sqlab_query`;
CREATE TABLE `sqlab_query` (
  `created_on` datetime DEFAULT NULL,
  `changed_on` datetime DEFAULT NULL,
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `submit_time` varchar(40) NOT NULL,
  `start_time` varchar(40) NOT NULL,
  `end_time` varchar(40) NOT NULL,
  `engine_arg1` varchar(200) NOT NULL,
  `engine_arg2` varchar(200) NOT NULL,
  `qsql` varchar(5000) NOT NULL,
  `engine` varchar(100) NOT NULL,
  `deli` varchar(11) NOT NULL,
  `stage` varchar(11) NOT NULL,
  `status` varchar(11) NOT NULL,
  `task_id` varchar(100) NOT NULL,
  `log_url` varchar(400) NOT NULL,
  `ui_url` varchar(400) NOT NULL,
  `result_url` varchar(400) NOT NULL,
  `result_line_num` varchar(400) NOT NULL,
  `err_msg` text DEFAULT NULL COMMENT '报错消息',
  `username` varchar(400) NOT NULL,
  `created_by_fk` int(11) DEFAULT NULL,
  `changed_by_fk` int(11) DEFAULT NULL,
  PRIMARY KEY (`id`),
  KEY `changed_by_fk` (`changed_by_fk`),
  KEY `created_by_fk` (`created_by_fk`),
  CONSTRAINT `sqlab_query_ibfk_1` FOREIGN KEY (`changed_by_fk`) REFERENCES `ab_user` (`id`),
  CONSTRAINT `sqlab_query_ibfk_2` FOREIGN KEY (`created_by_fk`) REFERENCES `ab_user` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

DROP TABLE IF EXISTS `task`;
CREATE TABLE `task` (
  `created_on` datetime DEFAULT NULL,
  `changed_on` datetime DEFAULT NULL,
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `name` varchar(100) NOT NULL,
  `label` varchar(100) NOT NULL,
  `job_template_id` int(11) DEFAULT NULL,
  `pipeline_id` int(11) DEFAULT NULL,
  `working_dir` varchar(1000) DEFAULT NULL,
  `command` varchar(1000) DEFAULT NULL,
  `overwrite_entrypoint` tinyint(1) DEFAULT NULL,
  `args` text DEFAULT NULL,
  `volume_mount` varchar(2000) DEFAULT NULL COMMENT '挂载',
  `node_selector` varchar(100) DEFAULT NULL,
  `resource_memory` varchar(100) DEFAULT NULL,
  `resource_cpu` varchar(100) DEFAULT NULL,
  `resource_gpu` varchar(100) DEFAULT NULL,
  `timeout` int(11) NOT NULL,
  `retry` int(11) NOT NULL,
  `outputs` text DEFAULT NULL,
  `monitoring` text DEFAULT NULL,
  `expand` mediumtext DEFAULT NULL,
  `created_by_fk` int(11) DEFAULT NULL,
  `changed_by_fk` int(11) DEFAULT NULL,
  `skip` tinyint(1) DEFAULT NULL,
  `resource_rdma` varchar(100) DEFAULT NULL COMMENT 'rdma的资源数量',
  `namespace` varchar(100) DEFAULT 'pipeline' COMMENT '命名空间',
  PRIMARY KEY (`id`),
  KEY `changed_by_fk` (`changed_by_fk`),
  KEY `created_by_fk` (`created_by_fk`),
  KEY `job_template_id` (`job_template_id`),
  KEY `pipeline_id` (`pipeline_id`),
  CONSTRAINT `task_ibfk_1` FOREIGN KEY (`changed_by_fk`) REFERENCES `ab_user` (`id`),
  CONSTRAINT `task_ibfk_2` FOREIGN KEY (`created_by_fk`) REFERENCES `ab_user` (`id`),
  CONSTRAINT `task_ibfk_3` FOREIGN KEY (`job_template_id`) REFERENCES `job_template` (`id`),
  CONSTRAINT `task_ibfk_4` FOREIGN KEY (`pipeline_id`) REFERENCES `pipeline` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

DROP TABLE IF EXISTS `workflow`;
CREATE TABLE `workflow` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `name` varchar(100) DEFAULT NULL,
  `namespace` varchar(100) DEFAULT NULL,
  `create_time` varchar(100) DEFAULT NULL,
  `status` varchar(100) DEFAULT NULL,
  `annotations` text DEFAULT NULL,
  `labels` text DEFAULT NULL,
  `spec` mediumtext DEFAULT NULL,
  `status_more` mediumtext DEFAULT NULL,
  `username` varchar(100) DEFAULT NULL,
  `info_json` text DEFAULT NULL,
  `add_row_time` datetime DEFAULT NULL,
  `foreign_key` varchar(100) DEFAULT NULL,
  `change_time` varchar(100) DEFAULT NULL,
  `cluster` varchar(100) DEFAULT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

INSERT INTO alembic_version (version_num) VALUES ('593366be4eff');
SET FOREIGN_KEY_CHECKS = 1;
