-- Tables of our own (not in cube-studio's schema), for authentication:
--   app_setting     generated keys shared by every replica (session key, token key)
--   user_token      the version of each user's API token (rotation revokes the old one)
--   login_throttle  failed-login counters per user name and per client address
-- They leave the original's tables untouched, so the original back end still runs on
-- the same database.

CREATE TABLE IF NOT EXISTS app_setting (
  `name` VARCHAR(100) NOT NULL,
  `value` TEXT NOT NULL,
  created_on DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  changed_on DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (`name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS user_token (
  user_id INT NOT NULL,
  version INT NOT NULL DEFAULT 0,
  rotated_on DATETIME NULL,
  PRIMARY KEY (user_id),
  CONSTRAINT fk_user_token_user FOREIGN KEY (user_id) REFERENCES ab_user (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS login_throttle (
  scope VARCHAR(8) NOT NULL,
  subject VARCHAR(255) NOT NULL,
  failures INT NOT NULL DEFAULT 0,
  window_start DATETIME NOT NULL,
  PRIMARY KEY (scope, subject)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
