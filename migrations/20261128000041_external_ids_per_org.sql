-- Ids that come from outside (a payment's transaction id, Stripe's object ids) were unique across
-- every organization. A member of one org recording an id another org had already recorded got a
-- 409 naming it, which told them the id exists elsewhere; and a member who learned another org's id
-- could record it first, after which that org's own record of it (a payment its processor reports,
-- say) was refused. Each is now unique within its org, which is what the ids identify.

alter table public.payments
    drop constraint payments_transaction_id_key,
    add constraint payments_org_id_transaction_id_key unique (org_id, transaction_id);
alter table public.invoices
    drop constraint invoices_stripe_invoice_id_key,
    add constraint invoices_org_id_stripe_invoice_id_key unique (org_id, stripe_invoice_id);
alter table public.refunds
    drop constraint refunds_stripe_refund_id_key,
    add constraint refunds_org_id_stripe_refund_id_key unique (org_id, stripe_refund_id);
alter table public.products
    drop constraint products_stripe_product_id_key,
    add constraint products_org_id_stripe_product_id_key unique (org_id, stripe_product_id);
alter table public.prices
    drop constraint prices_stripe_price_id_key,
    add constraint prices_org_id_stripe_price_id_key unique (org_id, stripe_price_id);
alter table public.billing_customers
    drop constraint billing_customers_stripe_customer_id_key,
    add constraint billing_customers_org_id_stripe_customer_id_key unique (org_id, stripe_customer_id);
alter table public.subscriptions
    drop constraint subscriptions_stripe_subscription_id_key,
    add constraint subscriptions_org_id_stripe_subscription_id_key unique (org_id, stripe_subscription_id);
