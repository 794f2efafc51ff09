select * from core.fct_tasks
