ALTER TABLE users DROP COLUMN previous_login_ip;
ALTER TABLE users DROP COLUMN previous_login_at;
DROP TABLE bans;
DROP TABLE throttle_events;
