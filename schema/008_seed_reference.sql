-- Default reference data (PRODUCTS.md): our institution, the eight debit
-- products with their first versions, and the bank's internal accounts.
-- Operators change products by adding a version with a later effective date.

INSERT INTO institutions (name, acquirer_id, is_self) VALUES ('Our Bank', '00000000001', true);

INSERT INTO products (code, name, scheme) VALUES
  ('VISA_CLASSIC',       'Visa Classic',          'visa'),
  ('VISA_BUSINESS',      'Visa Business',         'visa'),
  ('VISA_PLATINUM_LITE', 'Visa Platinum Lite',    'visa'),
  ('VISA_PLATINUM',      'Visa Platinum',         'visa'),
  ('MC_STANDARD',        'Mastercard Standard',   'mastercard'),
  ('MC_PLATINUM',        'Mastercard Platinum',   'mastercard'),
  ('UPI_CLASSIC',        'UnionPay Classic',      'unionpay'),
  ('UPI_PLATINUM',       'UnionPay Platinum',     'unionpay');

-- code, validity, annual fee, daily amount, cash/day, purchases/day,
-- conversion bp, foreign balance inquiry fee, new PIN fee, card retained fee
INSERT INTO product_versions (product_id, version, effective_from, validity_years, annual_fee,
    daily_amount_limit, daily_cash_count, daily_purchase_count, fee_conversion_bp,
    fee_balance_foreign, fee_new_pin, fee_card_retained)
SELECT p.id, 1, timestamptz '2020-01-01 00:00+07', v.validity, v.annual, v.daily, v.cash, v.purch,
       v.conv_bp, v.bal, v.pin, v.retained
  FROM (VALUES
    ('VISA_CLASSIC',       5,   500,  100000,  5,  5, 200, 50, 200, 500),
    ('VISA_BUSINESS',      5,  2000,  500000, 10, 10, 200, 50, 200, 500),
    ('VISA_PLATINUM_LITE', 5,  2000,  500000, 10, 10, 200, 50,   0, 500),
    ('VISA_PLATINUM',      5, 10000, 1000000, 10, 10,   0,  0,   0,   0),
    ('MC_STANDARD',        4,   500,  100000,  5,  5, 200, 50, 200, 500),
    ('MC_PLATINUM',        4,  2000,  700000, 10, 10, 200,  0,   0,   0),
    ('UPI_CLASSIC',        5,   300,  100000,  5,  5, 200, 50, 200, 500),
    ('UPI_PLATINUM',       5,  3000,  500000, 10, 10, 200,  0,   0,   0))
    AS v(code, validity, annual, daily, cash, purch, conv_bp, bal, pin, retained)
  JOIN products p ON p.code = v.code;

-- The bank's own accounts the postings need, one per currency.
INSERT INTO accounts (number, kind, currency, purpose)
SELECT 'GL-' || upper(p) || '-' || c.alpha, 'internal', c.code, p
  FROM unnest(ARRAY['fee_income', 'fx_income', 'fx_position', 'scheme_settlement', 'voucher_suspense']) AS p,
       currencies c;
