-- Changes about 1 % of the records of a scaled Odoo 16 source, as a few days of work would, for
-- bench/catch_up.sh: updates of every kind of scaled business record (texts, prices), new
-- partners and messages, deleted messages and leads (their messages with them). Plain SQL under
-- the source's own foreign keys, write_date set where Odoo would set it.
--
--   psql -d DATABASE -f bench/catch_up_change.sql      prints the number of rows changed

\set ON_ERROR_STOP on
BEGIN;
CREATE TEMP TABLE changed (what text, n bigint);

WITH u AS (UPDATE res_partner SET comment = coalesce(comment, '') || ' (edited)', write_date = now() at time zone 'UTC'
           WHERE id % 100 = 7 RETURNING 1) INSERT INTO changed SELECT 'res_partner updated', count(*) FROM u;
WITH u AS (UPDATE account_move_line SET name = coalesce(name, '') || ' (edited)', write_date = now() at time zone 'UTC'
           WHERE id % 100 = 7 RETURNING 1) INSERT INTO changed SELECT 'account_move_line updated', count(*) FROM u;
WITH u AS (UPDATE sale_order SET client_order_ref = 'edited', write_date = now() at time zone 'UTC'
           WHERE id % 100 = 7 RETURNING 1) INSERT INTO changed SELECT 'sale_order updated', count(*) FROM u;
WITH u AS (UPDATE stock_move SET description_picking = 'edited', write_date = now() at time zone 'UTC'
           WHERE id % 100 = 7 RETURNING 1) INSERT INTO changed SELECT 'stock_move updated', count(*) FROM u;
WITH u AS (UPDATE crm_lead SET description = 'edited', write_date = now() at time zone 'UTC'
           WHERE id % 100 = 7 RETURNING 1) INSERT INTO changed SELECT 'crm_lead updated', count(*) FROM u;
WITH u AS (UPDATE product_template SET list_price = list_price + 1, write_date = now() at time zone 'UTC'
           WHERE id % 100 = 7 RETURNING 1) INSERT INTO changed SELECT 'product_template updated', count(*) FROM u;
WITH u AS (UPDATE mail_message SET body = coalesce(body, '') || '<p>edited</p>', write_date = now() at time zone 'UTC'
           WHERE id % 100 = 7 RETURNING 1) INSERT INTO changed SELECT 'mail_message updated', count(*) FROM u;

-- New records: copies of 0.2 % of the partners and messages, with ids past the largest.
CREATE TEMP TABLE new_partners AS SELECT * FROM res_partner WHERE id % 500 = 3;
UPDATE new_partners SET id = (SELECT max(id) FROM res_partner) + n.rank, name = name || ' (new)',
       create_date = now() at time zone 'UTC', write_date = now() at time zone 'UTC'
FROM (SELECT id AS old, row_number() OVER (ORDER BY id) AS rank FROM new_partners) n WHERE n.old = new_partners.id;
UPDATE new_partners SET commercial_partner_id = id;
INSERT INTO res_partner SELECT * FROM new_partners;
SELECT setval('res_partner_id_seq', (SELECT max(id) FROM res_partner)) AS partner_seq \gset
INSERT INTO changed SELECT 'res_partner inserted', count(*) FROM new_partners;

CREATE TEMP TABLE new_messages AS SELECT * FROM mail_message WHERE id % 500 = 3;
UPDATE new_messages SET id = (SELECT max(id) FROM mail_message) + n.rank, message_id = NULL, parent_id = NULL,
       create_date = now() at time zone 'UTC', write_date = now() at time zone 'UTC'
FROM (SELECT id AS old, row_number() OVER (ORDER BY id) AS rank FROM new_messages) n WHERE n.old = new_messages.id;
INSERT INTO mail_message SELECT * FROM new_messages;
SELECT setval('mail_message_id_seq', (SELECT max(id) FROM mail_message)) AS message_seq \gset
INSERT INTO changed SELECT 'mail_message inserted', count(*) FROM new_messages;

-- Deleted records: 0.2 % of the leads (with their messages) and of the other messages.
WITH d AS (DELETE FROM crm_lead WHERE id % 500 = 11 RETURNING id),
     m AS (DELETE FROM mail_message WHERE model = 'crm.lead' AND res_id IN (SELECT id FROM d) RETURNING 1)
INSERT INTO changed SELECT 'crm_lead deleted', count(*) FROM d UNION ALL SELECT 'mail_message deleted', count(*) FROM m;
WITH d AS (DELETE FROM mail_message WHERE id % 500 = 11 RETURNING 1)
INSERT INTO changed SELECT 'mail_message deleted', count(*) FROM d;
COMMIT;

SELECT what, sum(n) FROM changed GROUP BY what ORDER BY what;
