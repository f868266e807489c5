pub mod init_stats;
