select * from core.dim_clients
