select * from core.dim_contracts
