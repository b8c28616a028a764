DROP TABLE health_probe;
ALTER TABLE audit_events DROP COLUMN last_at;
ALTER TABLE audit_events DROP COLUMN count;
