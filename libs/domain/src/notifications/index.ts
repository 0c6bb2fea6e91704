export {
  DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER,
  notificationEventOf, signatureOf, verifySignature, webhookRequest, webhooksFor, type WebhookPayload,
} from './webhooks';
