-- bench/sql/load_dtc.sql - closed deals :lo..:hi in DTC (see load_ltb.sql): the order account (CLOSED) with 3 terms,
-- the accepted delivery, 3 invoices (one per term, PAID), 3 payments, the ORDER and CONTRACT closures, the two
-- closure hand-offs (to BTO and LTB, delivered), and the idempotency keys of 3 payments and 1 hand-off. And what a
-- deal leaves in the ledger and the credit tables, as lead to cash leaves it: the customer's credit account (four
-- deals a customer: deal i belongs to customer (i + 3) / 4, made by its first deal), the four credit decisions
-- (ADMISSION, ORDER_PLACEMENT reserving, RELEASE, SHIPMENT) and the placement's reservation (released), 3 receipts
-- each applied by an allocation, the contract's signature, two revenue obligations (recognised), and the journal:
-- 9 entries (INVOICE x3, RECEIPT x3, ALLOCATION x3) of two lines each, in the periods of their dates.
\set ON_ERROR_STOP on
SET search_path = dtc, public;
SET session_replication_role = replica;
SET synchronous_commit = off;
BEGIN;
INSERT INTO order_accounts (id, contract_id, deal_id, customer_name, account_owner, solution_owner, fulfilment_owner,
                            currency, order_total_minor, accepted_minor, invoiced_minor, paid_minor, fully_accepted,
                            state, close_time, create_time, update_time, customer_id, customer_country_code,
                            customer_billing_currency, customer_account_owner, fully_accepted_date)
SELECT bench_id(7, i), bench_id(6, i), bench_id(1, i), 'Bulk Customer ' || i,
       'ar.li.na', 'sr.zhang.wei', 'fr.chen.jie', 'CNY', 460368, 460368, 460368, 460368, true, 'CLOSED',
       now() - interval '100 days', now() - interval '245 days', now() - interval '100 days',
       bench_id(120, (i + 3) / 4), 'CN', 'CNY', 'ar.li.na', current_date - 245
FROM generate_series(:lo, :hi) i;
INSERT INTO credit_accounts (customer_id, legal_name, tax_id, country_code, billing_currency, account_owner,
                             create_time, update_time)
SELECT bench_id(120, (i + 3) / 4), 'Bulk Customer ' || (i + 3) / 4, '', 'CN', 'CNY', 'ar.li.na',
       now() - interval '399 days', now() - interval '399 days'
FROM generate_series(:lo, :hi) i WHERE i % 4 = 1;
INSERT INTO credit_decisions (id, customer_id, asked_customer, stage, reference, deal_id, currency, amount_minor,
                              outcome, reasons, exposure_minor, stage_checked, reserved, caller, request_id,
                              as_of_date, decide_time)
SELECT bench_id(121 + k, i), bench_id(120, (i + 3) / 4), bench_id(120, (i + 3) / 4), v.stage,
       v.collection || '/' || (CASE v.collection WHEN 'opportunities' THEN bench_id(1, i)
                                                 WHEN 'contracts' THEN bench_id(6, i) ELSE bench_id(7, i) END),
       bench_id(1, i), 'CNY', 460368, 'APPROVED', '{}', 0, v.stage <> 'SHIPMENT', v.stage = 'ORDER_PLACEMENT',
       v.caller, bench_id(125 + k, i)::text, current_date - v.days, now() - v.days * interval '1 day'
FROM generate_series(:lo, :hi) i,
     (VALUES (0, 'ADMISSION', 'opportunities', 'ltb', 300), (1, 'ORDER_PLACEMENT', 'contracts', 'bto', 250),
             (2, 'RELEASE', 'orders', 'otd', 249), (3, 'SHIPMENT', 'orders', 'otd', 246))
         AS v(k, stage, collection, caller, days);
INSERT INTO credit_reservations (id, customer_id, stage, reference, deal_id, currency, amount_minor, decision_id,
                                 expire_time, released_time, release_reason, create_time, update_time)
SELECT bench_id(129, i), bench_id(120, (i + 3) / 4), 'ORDER_PLACEMENT', 'contracts/' || bench_id(6, i),
       bench_id(1, i), 'CNY', 460368, bench_id(122, i), now() - interval '250 days' + interval '15 minutes',
       now() - interval '250 days', 'ORDER_PLACED', now() - interval '250 days', now() - interval '250 days'
FROM generate_series(:lo, :hi) i;
INSERT INTO contract_signatures (contract_id, order_id, deal_id, handoff_id, advance_billed, sign_time, create_time)
SELECT bench_id(6, i), bench_id(7, i), bench_id(1, i), bench_id(130, i), false, now() - interval '250 days',
       now() - interval '250 days'
FROM generate_series(:lo, :hi) i;
INSERT INTO revenue_obligations (account_id, line_no, product, sku, revenue_type, service_months, currency, ssp_minor,
                                 net_minor, allocated_minor, recognised_minor)
SELECT bench_id(7, i), l, 'products/' || bench_id(131 + l, 0), 'BULK-' || l, 'POINT_IN_TIME', 0, 'CNY',
       (ARRAY[370368, 100000])[l], (ARRAY[370368, 90000])[l], (ARRAY[362494, 97874])[l], (ARRAY[362494, 97874])[l]
FROM generate_series(:lo, :hi) i, generate_series(1, 2) l;
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
INSERT INTO receipts (id, customer_id, currency, amount_minor, applied_minor, unapplied_minor, value_date,
                      bank_account, bank_reference, state, recorded_by, request_id, origin, create_time, update_time)
SELECT bench_id(134 + p, i), bench_id(120, (i + 3) / 4), 'CNY', (ARRAY[138110, 276220, 46038])[p + 1],
       (ARRAY[138110, 276220, 46038])[p + 1], 0, current_date - 100, 'default', 'BANK-BULK-R-' || i || '-' || p,
       'RECEIVED', 'fin.zhao.min', bench_id(137 + p, i)::text, 'PAYMENT', now() - interval '100 days',
       now() - interval '100 days'
FROM generate_series(:lo, :hi) i, generate_series(0, 2) p;
INSERT INTO allocations (id, receipt_id, invoice_id, account_id, currency, amount_minor, method, apply_date,
                         applied_by, state, create_time)
SELECT bench_id(140 + p, i), bench_id(134 + p, i), bench_id(47 + p, i), bench_id(7, i), 'CNY',
       (ARRAY[138110, 276220, 46038])[p + 1], 'PAYMENT', current_date - 100, 'fin.zhao.min', 'ACTIVE',
       now() - interval '100 days'
FROM generate_series(:lo, :hi) i, generate_series(0, 2) p;
-- the journal: per term p an INVOICE (receivables / contract liability) on the invoice date, a RECEIPT (cash /
-- unapplied cash) and an ALLOCATION (unapplied cash / receivables) on the payment date; the periods they fall in
INSERT INTO ledger_periods (period)
SELECT m FROM (VALUES (to_char(current_date - 245, 'YYYY-MM')), (to_char(current_date - 100, 'YYYY-MM'))) v(m)
WHERE NOT EXISTS (SELECT FROM ledger_periods WHERE period = v.m) GROUP BY m;
INSERT INTO journal_entries (id, event, source, customer_id, currency, functional_currency, event_date, posting_date,
                             period, total_minor, posted_by, create_time, fx_rate_scaled)
SELECT bench_id(143 + 3 * e + p, i), v.event,
       v.collection || '/' || bench_id(CASE e WHEN 0 THEN 47 WHEN 1 THEN 134 ELSE 140 END + p, i),
       bench_id(120, (i + 3) / 4), 'CNY', 'CNY', current_date - v.days, current_date - v.days,
       to_char(current_date - v.days, 'YYYY-MM'), (ARRAY[138110, 276220, 46038])[p + 1], v.who,
       now() - v.days * interval '1 day', 10000000000
FROM generate_series(:lo, :hi) i, generate_series(0, 2) p,
     (VALUES (0, 'INVOICE', 'invoices', 245, 'anonymous'), (1, 'RECEIPT', 'receipts', 100, 'fin.zhao.min'),
             (2, 'ALLOCATION', 'allocations', 100, 'fin.zhao.min')) AS v(e, event, collection, days, who);
INSERT INTO journal_lines (entry_id, line_no, account_role, account_code, debit_minor, credit_minor,
                           functional_debit_minor, functional_credit_minor)
SELECT bench_id(143 + 3 * e + p, i), n, a.role, a.code,
       CASE n WHEN 1 THEN (ARRAY[138110, 276220, 46038])[p + 1] ELSE 0 END,
       CASE n WHEN 2 THEN (ARRAY[138110, 276220, 46038])[p + 1] ELSE 0 END,
       CASE n WHEN 1 THEN (ARRAY[138110, 276220, 46038])[p + 1] ELSE 0 END,
       CASE n WHEN 2 THEN (ARRAY[138110, 276220, 46038])[p + 1] ELSE 0 END
FROM generate_series(:lo, :hi) i, generate_series(0, 2) p, generate_series(0, 2) e, generate_series(1, 2) n,
     LATERAL (SELECT role, code FROM ledger_accounts
              WHERE role = (ARRAY[['RECEIVABLES', 'CONTRACT_LIABILITY'], ['CASH', 'UNAPPLIED_CASH'],
                                  ['UNAPPLIED_CASH', 'RECEIVABLES']])[e + 1][n]) a;
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
