-- LTB (issue #18): list filters (AIP-160) on ListLeads and ListOpportunities. `expected_amount.units` compares whole
-- units of each opportunity's own currency, so the ISO 4217 minor-unit exponent is needed in SQL: the same table as
-- common/src/money.c (ltc_currency_digits; a currency not listed has 2). Applied with search_path = ltb.

CREATE FUNCTION currency_digits(code text) RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN code IN ('BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG', 'RWF', 'UGX', 'UYI', 'VND', 'VUV', 'XAF', 'XOF', 'XPF') THEN 0
        WHEN code IN ('BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND') THEN 3
        WHEN code IN ('CLF', 'UYW') THEN 4
        ELSE 2
    END
$$;

-- Filters and orders of the lists: leads by state and creation; opportunities by stage, owner and close date.
CREATE INDEX leads_state_seq_idx ON leads (state, seq);
CREATE INDEX opportunities_stage_seq_idx ON opportunities (stage, seq);
CREATE INDEX opportunities_account_owner_idx ON opportunities (account_owner, seq);
CREATE INDEX opportunities_close_date_idx ON opportunities (expected_close_date);
