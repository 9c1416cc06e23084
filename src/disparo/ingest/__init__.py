"""What comes in from Telegram and from integrations: updates (webhook and long polling) turned
into contact changes, and bulk imports read and checked row by row. No HTTP here: the API's
routes hand their bodies over."""
