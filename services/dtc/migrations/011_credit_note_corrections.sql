-- A price correction looks up what its invoice has been corrected by already: the PRICE_CORRECTION credit notes whose
-- source is "invoices/{invoice}" (creditnotes.c SQL_INVOICE_INFO). Only returns (credit_notes_return_uniq)
-- had an index on source, so every correction read the whole of credit_notes, a table that grows with the deals
-- (issue #22: found with enable_seqscan = off for the services' roles over the integration suites).
CREATE INDEX credit_notes_correction_idx ON credit_notes (source) WHERE kind = 'PRICE_CORRECTION';
