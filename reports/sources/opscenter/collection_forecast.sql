select * from marts.mart_collection_forecast
