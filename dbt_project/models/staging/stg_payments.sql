-- Rename/cast only: raw.payments is already typed and deduplicated by the loader; the columns and their
-- types are _sources.yml's (macro stage_source).
{{ stage_source('payments') }}
