DROP TABLE IF EXISTS login_throttle;
DROP TABLE IF EXISTS user_token;
DROP TABLE IF EXISTS app_setting;
