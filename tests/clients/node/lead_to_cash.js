#!/usr/bin/env node
'use strict';
// lead_to_cash - drives one deal from lead to cash through the gateway with the Node client, as
// tests/clients/python/lead_to_cash.py does with the Python one, checking what the contract promises at each step.
//
//   node tests/clients/node/lead_to_cash.js [--target HOST:PORT] [--quiet]
//
// LTB: lead (a party of its own: company name, e-mail and phone of this run), qualification (iron triangle,
//      requirements; the customer is created from the lead), order admission (ADMITTED), bid, won -> hand-off to BTO.
// BTO: deal received, two products, a quote (one line discounted), accepted, contract (30% advance, 60% on
//      acceptance, 10% retention), signed, order -> hand-off to OTD.
// OTD: order received, reviewed, released, scheduled on a new resource (promise date), shipped in two parts, each
//      accepted -> hand-off to DTC.
// DTC: invoices raised by the payment terms, each paid (the first in two parts) -> closure handed back to BTO and LTB.
// Ends with the opportunity CASH_COLLECTED, the BTO order and contract CLOSED and the DTC order account CLOSED.
// Exit 0 on success; 1 with the failing step and the decoded error otherwise.

const crypto = require('crypto');
const lc = require('./ltc_client');

const CUR = 'CNY';
const PRODUCT_A = { suffix: 'A', title: 'Sorting robot arm', price: 123456n, cost: 80000n, leadDays: 20 };
const PRODUCT_B = { suffix: 'B', title: 'Vision kit', price: 50000n, cost: 30000n, leadDays: 10 };
const QTY_A = 3n;
const QTY_B = 2n;
const DISCOUNT_B_BPS = 1000n;
const MARGIN_BPS = 2500;   // the expected margin given at admission, above the policy's default minimum (1000)
const TERMS = [['PAYMENT_TERM_KIND_ADVANCE', 3000, 0], ['PAYMENT_TERM_KIND_ON_ACCEPTANCE', 6000, 30],
               ['PAYMENT_TERM_KIND_RETENTION', 1000, 365]];

function expectedTotal() {
  const unitB = PRODUCT_B.price - (PRODUCT_B.price * DISCOUNT_B_BPS) / 10000n;
  return PRODUCT_A.price * QTY_A + unitB * QTY_B;
}

// A mobile number of its own, "+86 13x xxxx xxxx": CreateLead refuses a lead whose phone matches a customer or a NEW
// lead (DUPLICATE_LEAD), so each deal's lead is a party of its own.
function uniquePhone() {
  const n = String(crypto.randomInt(0, 1000000000)).padStart(9, '0');
  return `+86 13${n.slice(0, 1)} ${n.slice(1, 5)} ${n.slice(5)}`;
}

class DealFailure extends Error {}

function check(cond, what) {
  if (!cond) throw new DealFailure(what);
}

function state(got, want, what) {
  check(got === want, `${what}: state ${got}, expected ${want}`);
}

async function runDeal(s, log) {
  const run = lc.newId().slice(0, 8);
  const r = { run };
  const say = (stage, text) => log(`${stage.padEnd(4)} ${text}`);

  // --- LTB ---
  let lead = (await s.ltb.CreateLead({
    lead: { source: 'LEAD_SOURCE_REFERRAL', company_name: `Huaxin Logistics ${run}`, contact_name: 'Wang Fang',
            contact_email: `wang.fang+${run}@huaxin.example`, contact_phone: uniquePhone() },
    request_id: lc.newId() })).lead;
  check(lead.name.startsWith('leads/'), `lead name ${lead.name}`);
  state(lead.state, 'LEAD_STATE_NEW', 'lead');
  say('LTB', `lead ${lead.name} created (${lead.company_name})`);

  const triangle = { account_owner: 'ar.li.na', solution_owner: 'sr.zhang.wei', fulfilment_owner: 'fr.chen.jie' };
  const q = await s.ltb.QualifyLead({
    name: lead.name, opportunity_title: 'Warehouse sorting line', iron_triangle: triangle,
    expected_amount: lc.money(50000000n, CUR), expected_close_date: lc.daysAhead(45), win_probability_bps: 6000,
    requirements: [{ code: 'THROUGHPUT', description: '3 sorting cells, 1200 parcels/hour', quantity: '3' },
                   { code: 'VISION', description: 'barcode and damage detection', quantity: '2' }],
    customer_country_code: 'CN', customer_billing_currency: CUR, request_id: lc.newId() });
  state(q.lead.state, 'LEAD_STATE_QUALIFIED', 'lead');
  const opp = q.opportunity;
  state(opp.stage, 'OPPORTUNITY_STAGE_QUALIFIED', 'opportunity');
  check(q.lead.opportunity === opp.name, `lead.opportunity ${q.lead.opportunity} != ${opp.name}`);
  check(opp.deal === `deals/${lc.nameId(opp.name)}`, `opportunity.deal ${opp.deal}`);
  check(opp.requirements.length === 2, `${opp.requirements.length} requirements`);
  check(opp.customer.startsWith('customers/'), `opportunity.customer ${opp.customer}`);
  check(q.lead.customer === opp.customer, `lead.customer ${q.lead.customer} != ${opp.customer}`);
  r.opportunity = opp.name;
  r.deal = opp.deal;
  r.customer = opp.customer;
  say('LTB', `lead qualified -> opportunity ${opp.name}, customer ${r.customer}`);

  const amount = expectedTotal();
  // the order-admission gate (docs/credit.md): credit, compliance, margin; the bid needs an ADMITTED decision
  const adm = await s.ltb.RequestOrderAdmission({ opportunity: r.opportunity, amount: lc.money(amount, CUR),
                                                  expected_margin_bps: MARGIN_BPS, request_id: lc.newId() });
  const failed = adm.decision.checks.filter((c) => !c.passed).map((c) => `${c.check}: ${c.reasons.join(',')}`);
  state(adm.decision.outcome, 'ADMISSION_OUTCOME_ADMITTED', `admission (${failed.join('; ')})`);
  check(failed.length === 0, `admitted with failed checks ${failed.join('; ')}`);
  check(lc.toMinor(adm.decision.admitted_amount, CUR) === amount, 'admitted amount differs from the one asked');
  check(adm.opportunity.admission && adm.opportunity.admission.name === adm.decision.name, 'opportunity.admission');
  r.admission = adm.decision.name;
  say('LTB', `order admission ${adm.decision.name} ADMITTED for ${lc.fmtMinor(amount, CUR)} (margin ` +
             `${adm.decision.expected_margin_bps / 100}% >= ${adm.decision.minimum_margin_bps / 100}%)`);

  const bid = (await s.ltb.CreateBid({ bid: { opportunity: r.opportunity, amount: lc.money(amount, CUR) },
                                       request_id: lc.newId() })).bid;
  state(bid.state, 'BID_STATE_SUBMITTED', 'bid');
  check(lc.toMinor(bid.amount, CUR) === amount, `bid amount ${lc.toMinor(bid.amount)} != ${amount}`);
  const bidding = (await s.ltb.GetOpportunity({ name: r.opportunity })).opportunity;
  state(bidding.stage, 'OPPORTUNITY_STAGE_BIDDING', 'opportunity');
  say('LTB', `bid ${bid.name} submitted for ${lc.fmtMinor(amount, CUR)}`);

  const won = await s.ltb.MarkBidWon({ name: bid.name, request_id: lc.newId() });
  state(won.bid.state, 'BID_STATE_WON', 'bid');
  state(won.opportunity.stage, 'OPPORTUNITY_STAGE_WON', 'opportunity');
  check(won.opportunity.won_bid === bid.name, `won_bid ${won.opportunity.won_bid}`);
  say('LTB', 'bid won -> handed to BTO');

  // --- BTO ---
  const deal = await lc.waitFor(async () => (await s.bto.GetDeal({ name: r.deal })).deal, `BTO to receive ${r.deal}`);
  state(deal.state, 'DEAL_STATE_OPEN', 'BTO deal');
  check(deal.opportunity === r.opportunity && deal.bid === bid.name, 'deal opportunity/bid');
  check(deal.customer_name === lead.company_name, `deal customer ${deal.customer_name}`);
  check(deal.customer && deal.customer.customer === r.customer, 'BTO deal.customer differs from the opportunity\'s');
  check(JSON.stringify(deal.iron_triangle) === JSON.stringify(triangle), 'deal iron triangle');
  check(lc.toMinor(deal.expected_amount, CUR) === amount, 'deal amount differs from the bid');
  say('BTO', `deal received (hand-off) ${deal.name}`);

  const products = {};
  const skus = {};
  for (const p of [PRODUCT_A, PRODUCT_B]) {
    const sku = `LTC-${run}-${p.suffix}-JS`;
    const made = (await s.bto.CreateProduct({
      product: { sku, display_name: p.title, list_price: lc.money(p.price, CUR), unit_cost: lc.money(p.cost, CUR),
                 lead_time_days: p.leadDays },
      request_id: lc.newId() })).product;
    check(made.name.startsWith('products/') && made.sku === sku, `product ${made.name} ${made.sku}`);
    check(lc.toMinor(made.list_price, CUR) === p.price, 'product list price');
    check(made.etag !== '', 'product has no etag');
    products[p.suffix] = made.name;
    skus[made.name] = sku;
    say('BTO', `product ${sku} ${made.name}`);
  }

  const quote = (await s.bto.CreateQuote({
    quote: { deal: r.deal, valid_until: lc.daysAhead(30),
             lines: [{ product: products.A, quantity: String(QTY_A) },
                     { product: products.B, quantity: String(QTY_B), discount_bps: Number(DISCOUNT_B_BPS) }] },
    request_id: lc.newId() })).quote;
  state(quote.state, 'QUOTE_STATE_DRAFT', 'quote');
  let lineSum = 0n;
  for (const [i, ln] of quote.lines.entries()) {
    const total = lc.toMinor(ln.line_total, CUR);
    check(total === lc.toMinor(ln.unit_price, CUR) * BigInt(ln.quantity), `quote line ${i} total`);
    lineSum += total;
  }
  check(lc.toMinor(quote.total, CUR) === lineSum && lineSum === expectedTotal(),
        `quote total ${lc.toMinor(quote.total)} (lines ${lineSum}, expected ${expectedTotal()})`);
  say('BTO', `quote ${quote.name} v${quote.version}: total ${lc.fmtMinor(lineSum, CUR)}`);

  state((await s.bto.AcceptQuote({ name: quote.name, request_id: lc.newId() })).quote.state, 'QUOTE_STATE_ACCEPTED',
        'quote');
  let contract = (await s.bto.CreateContract({
    contract: { quote: quote.name, requested_delivery_date: lc.daysAhead(60),
                payment_terms: TERMS.map(([kind, bps, days]) => ({ kind, share_bps: bps, due_days: days })) },
    request_id: lc.newId() })).contract;
  state(contract.state, 'CONTRACT_STATE_DRAFT', 'contract');
  check(contract.deal === r.deal && contract.payment_terms.length === 3, 'contract deal / terms');
  contract = (await s.bto.SignContract({ name: contract.name, signed_by: 'Zhao Min', request_id: lc.newId() }))
    .contract;
  state(contract.state, 'CONTRACT_STATE_SIGNED', 'contract');
  say('BTO', `contract ${contract.name} drafted and signed`);

  const order = (await s.bto.CreateOrder({ contract: contract.name, request_id: lc.newId() })).order;
  state(order.state, 'ORDER_STATE_PLACED', 'BTO order');
  check(order.contract === contract.name && order.deal === r.deal, 'order contract / deal');
  const orderTotal = lc.toMinor(order.total, CUR);
  check(orderTotal === lineSum, `order total ${orderTotal} != quote ${lineSum}`);
  say('BTO', `order ${order.name} placed, ${lc.fmtMinor(orderTotal, CUR)} -> handed to OTD`);

  // --- OTD ---
  const otdOrder = await lc.waitFor(async () => (await s.otd.GetOrder({ name: order.name })).order,
                                    `OTD to receive ${order.name}`);
  state(otdOrder.state, 'ORDER_STATE_RECEIVED', 'OTD order');
  check(lc.toMinor(otdOrder.total, CUR) === orderTotal, 'OTD order total');
  check(otdOrder.payment_terms.length === 3, 'OTD order payment terms');
  check(otdOrder.customer && otdOrder.customer.customer === r.customer, 'OTD order.customer differs');
  say('OTD', `order received (hand-off) ${otdOrder.name}`);
  // a resource first: the review's capacity check needs one
  const res = (await s.otd.CreateResource({ resource: { display_name: `Assembly line ${run} js`, daily_capacity: '10' },
                                            request_id: lc.newId() })).resource;
  check(res.name.startsWith('resources/'), `resource ${res.name}`);
  state((await s.otd.ReviewOrder({ name: order.name, approved: true, comment: 'ok', request_id: lc.newId() })).order
    .state, 'ORDER_STATE_REVIEWED', 'OTD order');
  state((await s.otd.ReleaseOrder({ name: order.name, request_id: lc.newId() })).order.state, 'ORDER_STATE_RELEASED',
        'OTD order');
  const scheduled = (await s.otd.ScheduleOrder({ name: order.name, request_id: lc.newId() })).order;
  state(scheduled.state, 'ORDER_STATE_SCHEDULED', 'OTD order');
  check(scheduled.promise_date && scheduled.promise_date.year > 0, 'no promise date');
  say('OTD', `reviewed, released, scheduled: promise date ${lc.fmtDate(scheduled.promise_date)}`);

  const shipped = [];
  const shipAndAccept = async (lines, wantOrder) => {
    const sh = (await s.otd.CreateShipment({
      shipment: { order: order.name, lines: lines.map(([product, qty]) => ({ product, quantity: String(qty) })) },
      request_id: lc.newId() })).shipment;
    state(sh.state, 'SHIPMENT_STATE_SHIPPED', 'shipment');
    shipped.push(lc.toMinor(sh.amount, CUR));
    const acc = await s.otd.RecordAcceptance({ name: sh.name, accepted: true, note: 'inspected on site, accepted',
                                               request_id: lc.newId() });
    state(acc.shipment.state, 'SHIPMENT_STATE_ACCEPTED', 'shipment');
    state(acc.order.state, wantOrder, 'OTD order');
    say('OTD', `shipment ${sh.name} (${lines.map(([p, n]) => `${n} x ${skus[p]}`).join(', ')}) accepted`);
  };
  await shipAndAccept([[products.A, 2n]], 'ORDER_STATE_PARTIALLY_SHIPPED');
  await shipAndAccept([[products.A, QTY_A - 2n], [products.B, QTY_B]], 'ORDER_STATE_CLOSED');
  check(shipped.reduce((a, b) => a + b, 0n) === orderTotal, 'shipments do not add up to the order');

  // --- DTC ---
  const listInvoices = async () => {
    const out = [];
    let token = '';
    do {
      const resp = await s.dtc.ListInvoices({ order: order.name, page_size: 500, page_token: token });
      out.push(...resp.invoices);
      token = resp.next_page_token;
    } while (token);
    return out;
  };
  const invoices = await lc.waitFor(async () => {
    await s.dtc.GetOrderAccount({ name: `orderAccounts/${lc.nameId(order.name)}` });
    const invs = await listInvoices();
    return invs.reduce((a, i) => a + lc.toMinor(i.amount, CUR), 0n) === orderTotal ? invs : null;
  }, `DTC invoices of ${order.name} to add up to ${lc.fmtMinor(orderTotal, CUR)}`);
  for (const i of invoices) {
    state(i.state, 'INVOICE_STATE_UNPAID', `invoice ${i.name}`);
    check(i.order === order.name, `invoice ${i.name} of ${i.order}`);
  }
  say('DTC', `${invoices.length} invoices raised (hand-offs), total ${lc.fmtMinor(orderTotal, CUR)}`);

  let paid = 0n;
  for (const [n, inv] of invoices.entries()) {
    const due = lc.toMinor(inv.amount, CUR);
    const parts = n === 0 && due >= 2n ? [due / 2n, due - due / 2n] : [due];
    for (const [k, part] of parts.entries()) {
      const resp = await s.dtc.RecordPayment({
        payment: { invoice: inv.name, amount: lc.money(part, CUR), reference: `BANK-${run}-${n}${'ab'[k]}` },
        request_id: lc.newId() });
      check(resp.payment.name.startsWith('payments/'), `payment ${resp.payment.name}`);
      state(resp.invoice.state, k + 1 < parts.length ? 'INVOICE_STATE_PARTLY_PAID' : 'INVOICE_STATE_PAID',
            `invoice ${inv.name}`);
      paid += part;
    }
    say('DTC', `invoice ${inv.name} paid (${parts.length} payment(s))`);
  }
  check(paid === orderTotal, `paid ${paid} != order total ${orderTotal}`);

  const acct = await lc.waitFor(async () => {
    const a = (await s.dtc.GetOrderAccount({ name: `orderAccounts/${lc.nameId(order.name)}` })).order_account;
    return a.state === 'ORDER_ACCOUNT_STATE_CLOSED' ? a : null;
  }, 'the DTC order account to close');
  say('DTC', `order account ${acct.name} CLOSED -> closure handed to BTO and LTB`);
  const final = await lc.waitFor(async () => {
    const o = (await s.ltb.GetOpportunity({ name: r.opportunity })).opportunity;
    return o.stage === 'OPPORTUNITY_STAGE_CASH_COLLECTED' ? o : null;
  }, `opportunity ${r.opportunity} to reach CASH_COLLECTED`);
  check(lc.toMinor(final.collected_amount, CUR) === orderTotal, 'LTB collected amount');
  const closedOrder = await lc.waitFor(async () => {
    const o = (await s.bto.GetOrder({ name: order.name })).order;
    return o.state === 'ORDER_STATE_CLOSED' ? o : null;
  }, `BTO order ${order.name} to close`);
  check(lc.toMinor(closedOrder.collected_amount, CUR) === orderTotal, 'BTO collected amount');
  await lc.waitFor(async () => (await s.bto.GetContract({ name: contract.name })).contract.state ===
                                'CONTRACT_STATE_CLOSED', `BTO contract ${contract.name} to close`);
  say('LTB', `opportunity CASH_COLLECTED: ${lc.fmtMinor(orderTotal, CUR)}; BTO order and contract CLOSED`);
  check(acct.customer && acct.customer.customer === r.customer, 'DTC order_account.customer differs');
  return { deal: r.deal, customer: r.customer, admission: r.admission, total: orderTotal,
           history: final.stage_history.map((h) => h.stage) };
}

async function main() {
  const args = process.argv.slice(2);
  const ti = args.indexOf('--target');
  const target = ti >= 0 ? args[ti + 1] : lc.gatewayTarget();
  const log = args.includes('--quiet') ? () => {} : (line) => console.log(line);
  const s = new lc.Stubs(target);
  try {
    const r = await runDeal(s, log);
    console.log(`DEAL ${r.deal} (customer ${r.customer}, admission ${r.admission} ADMITTED): ` +
                `${lc.fmtMinor(r.total, CUR)} collected; stages ${r.history.join(' -> ')}`);
    console.log('OK: lead to cash complete (Node client)');
    return 0;
  } catch (err) {
    console.error(`FAILED: ${lc.describeError(err)}`);
    return 1;
  } finally {
    s.close();
  }
}

if (require.main === module) main().then((rc) => process.exit(rc));

module.exports = { runDeal };
