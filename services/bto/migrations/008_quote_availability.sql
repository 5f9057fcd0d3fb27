-- BTO (issue #14): the customer's requested date on a quote and OTD's available-to-promise answer stored when the
-- quote is sent (advisory: UNKNOWN with the reason when OTD did not answer). Applied with search_path = bto.
ALTER TABLE quotes
    ADD COLUMN requested_date date,
    ADD COLUMN atp_state text CHECK (atp_state IN ('KNOWN', 'UNKNOWN')),
    ADD COLUMN atp_date date,
    ADD COLUMN atp_meets boolean,
    ADD COLUMN atp_reason text CHECK (char_length(atp_reason) <= 500),
    ADD COLUMN atp_time timestamptz,
    ADD CONSTRAINT quotes_atp_known CHECK ((atp_state = 'KNOWN') = (atp_date IS NOT NULL AND atp_meets IS NOT NULL));
