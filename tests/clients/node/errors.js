#!/usr/bin/env node
'use strict';
// errors - bad requests through the gateway with the Node client, each failure's google.rpc.Status details decoded
// from the `grpc-status-details-bin` trailer: ErrorInfo (reason, domain) and BadRequest (every bad field).
//
//   node tests/clients/node/errors.js          (node:test; exit 0 when all pass)
// Target: $LTC_GATEWAY_TARGET, else 127.0.0.1:50051 + $LTC_PORT_OFFSET.

const assert = require('node:assert/strict');
const { test, after } = require('node:test');
const lc = require('./ltc_client');

const s = new lc.Stubs(lc.gatewayTarget());
after(() => s.close());

// Runs the call, which must fail with `codeName`; returns the decoded details after the checks every error passes.
async function expectError(call, codeName) {
  let resp;
  try {
    resp = await call();
  } catch (err) {
    const d = lc.decodeErrorDetails(err);
    assert.equal(d.codeName, codeName, lc.describeError(err));
    assert.ok(d.status, `no ${'grpc-status-details-bin'} trailer: ${lc.describeError(err)}`);
    assert.equal(d.status.code, err.code, 'google.rpc.Status.code differs from the gRPC status code');
    assert.ok(d.errorInfo, 'no google.rpc.ErrorInfo in the details');
    assert.match(d.reason, /^[A-Z][A-Z0-9_]*$/, 'ErrorInfo.reason is not UPPER_SNAKE');
    assert.match(d.domain, /^[a-z]+\.ltc$/, 'ErrorInfo.domain');
    return d;
  }
  assert.fail(`expected ${codeName}, got a response: ${JSON.stringify(resp).slice(0, 300)}`);
}

// Each lead a party of its own (company name, e-mail and phone): CreateLead refuses a lead matching a customer or a
// NEW lead (DUPLICATE_LEAD), and these leads stay NEW, or become customers, from one run to the next.
const lead = (over = {}) => {
  const u = lc.newId().slice(0, 8);
  const n = String(parseInt(u, 16) % 1000000000).padStart(9, '0');
  return { source: 'LEAD_SOURCE_WEBSITE', company_name: `Node Errors ${u}`, contact_email: `qa.${u}@node.example`,
           contact_phone: `+86 13${n.slice(0, 1)} ${n.slice(1, 5)} ${n.slice(5)}`, ...over };
};

test('INVALID_ARGUMENT lists every bad field in BadRequest', async () => {
  const d = await expectError(() => s.ltb.CreateLead({
    lead: lead({ company_name: '', source: 'LEAD_SOURCE_UNSPECIFIED', contact_email: 'not-an-address' }),
    request_id: lc.newId() }), 'INVALID_ARGUMENT');
  assert.equal(d.reason, 'INVALID_ARGUMENT');
  assert.equal(d.domain, 'ltb.ltc');
  for (const f of ['lead.company_name', 'lead.source', 'lead.contact_email']) assert.ok(d.fields.includes(f), f);
  for (const [, desc] of d.violations) assert.ok(desc.length > 0);
});

test('BTO details pass through the gateway unchanged (domain bto.ltc, indexed field paths)', async () => {
  const d = await expectError(() => s.bto.CreateQuote({
    quote: { deal: `deals/${lc.newId()}`, valid_until: lc.daysAhead(10),
             lines: [{ product: `products/${lc.newId()}`, quantity: '-3' },
                     { product: `products/${lc.newId()}`, quantity: '1', discount_bps: 20000 }] },
    request_id: lc.newId() }), 'INVALID_ARGUMENT');
  assert.equal(d.domain, 'bto.ltc');
  assert.deepEqual(d.fields.filter((f) => f.startsWith('quote.lines')).sort(),
                   ['quote.lines[0].quantity', 'quote.lines[1].discount_bps']);
});

test('an unknown enum number is INVALID_ARGUMENT naming the field', async () => {
  const d = await expectError(() => s.ltb.CreateLead({ lead: lead({ source: 99 }), request_id: lc.newId() }),
                              'INVALID_ARGUMENT');
  assert.deepEqual(d.fields, ['lead.source']);
});

test('NOT_FOUND with a specific reason', async () => {
  const d = await expectError(() => s.ltb.GetLead({ name: `leads/${lc.newId()}` }), 'NOT_FOUND');
  assert.equal(d.reason, 'LEAD_NOT_FOUND');
  assert.equal(d.fields.length, 0);
});

test('FAILED_PRECONDITION: a lead qualified twice', async () => {
  const l = (await s.ltb.CreateLead({ lead: lead(), request_id: lc.newId() })).lead;
  const qualify = () => s.ltb.QualifyLead({
    name: l.name, opportunity_title: 'Node deal', expected_amount: lc.money(100000),
    iron_triangle: { account_owner: 'a', solution_owner: 's', fulfilment_owner: 'f' },
    customer_country_code: 'CN', request_id: lc.newId() });
  await qualify();
  const d = await expectError(qualify, 'FAILED_PRECONDITION');
  assert.equal(d.reason, 'LEAD_NOT_NEW');
});

test('idempotency: a repeat returns the first response; another request with the same id is refused', async () => {
  const rid = lc.newId();
  const idem = lead({ company_name: `Idem ${rid.slice(0, 8)}` });   // the same lead twice: the same request
  const first = await s.ltb.CreateLead({ lead: idem, request_id: rid });
  const again = await s.ltb.CreateLead({ lead: idem, request_id: rid });
  assert.deepEqual(again, first);
  const d = await expectError(() => s.ltb.CreateLead({ lead: lead({ company_name: 'Other' }), request_id: rid }),
                              'ALREADY_EXISTS');
  assert.equal(d.reason, 'IDEMPOTENCY_KEY_REUSED');
});

test('UpdateLead: a bad update_mask path, then a stale etag', async () => {
  const l = (await s.ltb.CreateLead({ lead: lead(), request_id: lc.newId() })).lead;
  let d = await expectError(() => s.ltb.UpdateLead({
    lead: { name: l.name, contact_name: 'x' }, update_mask: { paths: ['contact_name', 'state'] },
    request_id: lc.newId() }), 'INVALID_ARGUMENT');
  assert.deepEqual(d.fields, ['update_mask']);
  const updated = (await s.ltb.UpdateLead({ lead: { name: l.name, contact_name: 'Node', etag: l.etag },
                                            update_mask: { paths: ['contact_name'] }, request_id: lc.newId() })).lead;
  assert.equal(updated.contact_name, 'Node');
  assert.notEqual(updated.etag, l.etag);
  d = await expectError(() => s.ltb.UpdateLead({ lead: { name: l.name, contact_name: 'late', etag: l.etag },
                                                 update_mask: { paths: ['contact_name'] }, request_id: lc.newId() }),
                        'ABORTED');
  assert.equal(d.reason, 'ETAG_MISMATCH');
});

test('a bad page token is INVALID_ARGUMENT naming page_token', async () => {
  const d = await expectError(() => s.ltb.ListLeads({ page_size: 5, page_token: 'not a token!' }),
                              'INVALID_ARGUMENT');
  assert.deepEqual(d.fields, ['page_token']);
});

test('internal IntakeService methods are not routed by the gateway (UNIMPLEMENTED)', async () => {
  const raw = s.ltb.raw;
  const d = await expectError(() => new Promise((resolve, reject) => {
    raw.makeUnaryRequest('/ltc.bto.v1.IntakeService/AcceptWonBid', (x) => x, (x) => x, Buffer.alloc(0),
                         new lc.grpc.Metadata(), { deadline: Date.now() + 10000 },
                         (err, resp) => (err ? reject(err) : resolve(resp)));
  }), 'UNIMPLEMENTED');
  assert.equal(d.reason, 'UNKNOWN_METHOD');
  assert.equal(d.domain, 'gateway.ltc');
});
