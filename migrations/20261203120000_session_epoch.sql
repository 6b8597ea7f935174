-- Access tokens carry the epoch of their user's sessions; bumping it (password change, log
-- out everywhere) makes every access token issued before unusable at once.
alter table users add column session_epoch integer not null default 0;
