mod init_stats;
