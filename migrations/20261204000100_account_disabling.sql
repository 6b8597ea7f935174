-- Staff can disable an account: its sessions end at once and it cannot sign in until enabled.
alter table users add column disabled_at timestamptz;
