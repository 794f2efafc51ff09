-- Rename/cast only: raw.targets is already typed and deduplicated by the loader; the columns and their
-- types are _sources.yml's (macro stage_source).
{{ stage_source('targets') }}
