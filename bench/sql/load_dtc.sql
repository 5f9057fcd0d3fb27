-- bench/sql/load_dtc.sql - closed deals :lo..:hi in DTC (see load_ltb.sql): the order account (CLOSED) with 3 terms,
-- the accepted delivery, 3 invoices (one per term, PAID), 3 payments, the ORDER and CONTRACT closures, the two
-- closure hand-offs (to BTO and LTB, delivered), and the idempotency keys of 3 payments and 1 hand-off.
\set ON_ERROR_STOP on
SET search_path = dtc, public;
SET session_replication_role = replica;
SET synchronous_commit = off;
BEGIN;
INSERT INTO order_accounts (id, contract_id, deal_id, customer_name, account_owner, solution_owner, fulfilment_owner,
                            currency, order_total_minor, accepted_minor, invoiced_minor, paid_minor, fully_accepted,
                            state, close_time, create_time, update_time)
SELECT bench_id(7, i), bench_id(6, i), bench_id(1, i), 'Bulk Customer ' || i,
       'ar.li.na', 'sr.zhang.wei', 'fr.chen.jie', 'CNY', 460368, 460368, 460368, 460368, true, 'CLOSED',
       now() - interval '100 days', now() - interval '245 days', now() - interval '100 days'
FROM generate_series(:lo, :hi) i;
-- 30% / 60% / remainder of 460368
INSERT INTO account_terms (id, account_id, position, kind, share_bps, due_days, total_minor, invoiced_minor)
SELECT bench_id(44 + p, i), bench_id(7, i), p,
       (ARRAY['ADVANCE', 'ON_ACCEPTANCE', 'RETENTION'])[p + 1], (ARRAY[3000, 6000, 1000])[p + 1],
       (ARRAY[0, 30, 365])[p + 1], (ARRAY[138110, 276220, 46038])[p + 1], (ARRAY[138110, 276220, 46038])[p + 1]
FROM generate_series(:lo, :hi) i, generate_series(0, 2) p;
INSERT INTO deliveries (id, account_id, shipment_id, handoff_id, currency, accepted_minor, fully_accepted)
SELECT bench_id(9, i), bench_id(7, i), bench_id(8, i), bench_id(14, i),
       'CNY', 460368, true
FROM generate_series(:lo, :hi) i;
INSERT INTO invoices (id, account_id, shipment_id, term_position, term_kind, currency, amount_minor, paid_minor,
                      invoice_date, due_date, state, create_time, update_time)
SELECT bench_id(47 + p, i), bench_id(7, i), bench_id(8, i), p,
       (ARRAY['ADVANCE', 'ON_ACCEPTANCE', 'RETENTION'])[p + 1], 'CNY', (ARRAY[138110, 276220, 46038])[p + 1],
       (ARRAY[138110, 276220, 46038])[p + 1], current_date - 245, current_date - 245 + (ARRAY[0, 30, 365])[p + 1],
       'PAID', now() - interval '245 days', now() - interval '100 days'
FROM generate_series(:lo, :hi) i, generate_series(0, 2) p;
INSERT INTO payments (id, invoice_id, account_id, currency, amount_minor, reference, create_time)
SELECT bench_id(50 + p, i), bench_id(47 + p, i), bench_id(7, i), 'CNY',
       (ARRAY[138110, 276220, 46038])[p + 1], 'BANK-BULK-' || i || '-' || p, now() - interval '100 days'
FROM generate_series(:lo, :hi) i, generate_series(0, 2) p;
INSERT INTO closures (id, kind, account_id, contract_id, deal_id, currency, collected_minor, close_time)
SELECT bench_id(CASE k WHEN 'ORDER' THEN 53 ELSE 54 END, i), k, bench_id(7, i), bench_id(6, i), bench_id(1, i),
       'CNY', 460368, now() - interval '100 days'
FROM generate_series(:lo, :hi) i, unnest(ARRAY['ORDER', 'CONTRACT']) k;
INSERT INTO outbox (handoff_id, deal_id, destination, method, payload, create_time, attempts, next_attempt_time,
                    delivered_time)
SELECT bench_id(h, i), bench_id(1, i)::text, d, m, decode(repeat('0a24', 60), 'hex'),
       now() - interval '100 days', 1, now() - interval '100 days', now() - interval '100 days'
FROM generate_series(:lo, :hi) i,
     (VALUES (15, 'bto', '/ltc.bto.v1.IntakeService/AcceptOrderClosure'),
             (16, 'ltb', '/ltc.ltb.v1.IntakeService/AcceptCashCollected')) AS v(h, d, m);
INSERT INTO idempotency_keys (method, key, fingerprint, response, create_time)
SELECT '/ltc.dtc.v1.DeliveryToCashService/RecordPayment', bench_id(76 + p, i)::text,
       decode(repeat('5a', 32), 'hex'), decode(repeat('0a24', 100), 'hex'), now() - interval '100 days'
FROM generate_series(:lo, :hi) i, generate_series(0, 2) p;
INSERT INTO idempotency_keys (method, key, fingerprint, response, create_time)
SELECT '/ltc.dtc.v1.IntakeService/AcceptDelivery', bench_id(14, i)::text, decode(repeat('5a', 32), 'hex'),
       decode(repeat('0a24', 100), 'hex'), now() - interval '245 days'
FROM generate_series(:lo, :hi) i;
COMMIT;
