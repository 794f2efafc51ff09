select * from marts.mart_collections_by_dimension
