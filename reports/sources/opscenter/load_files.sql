select * from raw.load_files
