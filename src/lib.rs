pub fn placeholder() {}
pub mod init_stats;
