select * from marts.mart_progress_board_stages
