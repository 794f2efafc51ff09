-- mart_alerts' message template: exactly the alerts whose message has a day count moving with the
-- as-of date have a template with {days} and one date; the template with message_days filled in
-- is the message, and the count is the one its date gives (since: greatest(0, as_of - date); until:
-- date - as_of). Pages rely on this to publish the template and the date instead of the text.
select alert_id, alert_type, message, message_template, message_days, message_days_since, message_days_until
from {{ ref('mart_alerts') }}
where (message_template is null) <> (message_days_since is null and message_days_until is null)
   or (message_days_since is not null and message_days_until is not null)
   or (message_template is not null and (
        message_days is null
        or not contains(message_template, '{days}')
        -- (a client name holding '{days}' itself: the template is right, a page shows the message)
        or replace(message_template, '{days}', message_days::varchar) <> message
        and length(message_template) - length(replace(message_template, '{days}', '')) = length('{days}')
   ))
   or message_days_since is not null and message_days <> greatest(0, {{ as_of() }} - message_days_since)
   or message_days_until is not null and message_days <> message_days_until - {{ as_of() }}
