select * from raw.load_rejects
