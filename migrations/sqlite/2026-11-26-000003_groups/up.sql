-- Users to groups, for forward-auth access rules. Managed with `gatehouse group add|remove`.
CREATE TABLE user_groups (
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    group_name  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (user_id, group_name)
);
CREATE INDEX user_groups_group_name ON user_groups (group_name);
