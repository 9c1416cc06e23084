// Words of the page in Brazilian Portuguese (default) and English, and locale-aware formats.
// The audience screens' words live in words_audience.js, those of personal variables, templates
// and the bulk tag in words_templates.js, those of A/B tests and conversions in words_ab.js, those
// of the bot's report in words_reports.js, those of webhooks in words_webhooks.js, those of recall
// and edit in words_jobs.js, those of the import screen in words_import.js; all are merged in here.

import { AB_EN, AB_PT } from "./words_ab.js";
import { AUDIENCE_EN, AUDIENCE_PT } from "./words_audience.js";
import { CONTACTS_EN, CONTACTS_PT } from "./words_contacts.js";
import { IMPORT_EN, IMPORT_PT } from "./words_import.js";
import { JOBS_EN, JOBS_PT } from "./words_jobs.js";
import { REPORTS_EN, REPORTS_PT } from "./words_reports.js";
import { TEMPLATES_EN, TEMPLATES_PT } from "./words_templates.js";
import { WEBHOOKS_EN, WEBHOOKS_PT } from "./words_webhooks.js";

const PT = {
  "app.title": "Disparo",
  "app.tagline": "Disparos em massa para os contatos dos seus bots do Telegram",
  "nav.shots": "Disparos",
  "nav.bots": "Bots",
  "nav.signout": "Sair",
  "nav.bot": "Bot",
  "nav.language": "Idioma",

  "signin.title": "Entrar no painel",
  "signin.lead": "Cole o token de administrador (DISPARO_ADMIN_TOKEN). Ele fica guardado só nesta aba.",
  "signin.token": "Token de administrador",
  "signin.submit": "Entrar",
  "signin.invalid": "Token inválido. Confira o valor de DISPARO_ADMIN_TOKEN.",
  "signin.expired": "Sua sessão expirou. Entre de novo.",
  "signin.unreachable": "Não foi possível falar com o servidor. Ele está rodando?",

  "common.cancel": "Cancelar",
  "common.back": "Voltar",
  "common.close": "Fechar",
  "common.save": "Salvar",
  "common.saving": "Salvando…",
  "common.confirm": "Confirmar",
  "common.loading": "Carregando…",
  "common.loadMore": "Carregar mais",
  "common.yes": "Sim",
  "common.no": "Não",
  "common.retry": "Tentar de novo",
  "common.error": "Algo deu errado",
  "common.none": "—",

  "status.pending": "Agendado",
  "status.pending_due": "Na fila",
  "status.running": "Enviando",
  "status.paused": "Pausado",
  "status.sent": "Concluído",
  "status.skipped": "Sem público",
  "status.error": "Erro",
  "status.cancelled": "Cancelado",

  "target.started": "/start",
  "target.pix_created": "PIX",
  "target.started.long": "Quem deu /start",
  "target.pix_created.long": "Quem gerou PIX",
  "target.recency": "últimos {n} dias",
  "target.recency.one": "último dia",

  "media.none": "Só texto",
  "media.photo": "Foto",
  "media.video": "Vídeo",
  "media.audio": "Áudio",

  "counts.total": "Público",
  "counts.pending": "Na fila",
  "counts.sending": "Enviando",
  "counts.sent": "Enviados",
  "counts.skipped": "Pulados",
  "counts.error": "Erros",
  "counts.unknown": "Desconhecidos",

  "metrics.title": "Contatos do bot",
  "metrics.active": "Ativos",
  "metrics.blocked": "Bloqueados",
  "metrics.deactivated": "Desativados",
  "metrics.total": "Total",
  "metrics.change": "{sign}{n} em 24 h",
  "metrics.nochange": "sem mudança em 24 h",

  "shots.title": "Disparos",
  "shots.new": "Novo disparo",
  "shots.empty.title": "Nenhum disparo ainda",
  "shots.empty.lead": "Crie o primeiro disparo para os contatos deste bot.",
  "shots.nobots.title": "Nenhum bot cadastrado",
  "shots.nobots.lead": "Cadastre um bot com o token do @BotFather para começar.",
  "shots.nobots.action": "Adicionar bot",
  "shots.scheduledFor": "Programado para {when}",
  "shots.createdAt": "Criado em {when}",
  "shots.startedAt": "Iniciado em {when}",
  "shots.finishedAt": "Concluído em {when}",
  "shots.progress": "{done} de {total}",
  "shots.audienceWriting": "gravando o público: {total} até agora",
  "shots.rate": "{rate}/s",
  "shots.eta": "termina em {eta}",
  "shots.edit": "Editar",
  "shots.cancel": "Cancelar",
  "shots.pause": "Pausar",
  "shots.resume": "Retomar",
  "shots.duplicate": "Duplicar",
  "shots.details": "Estatísticas",
  "shots.confirmCancel.title": "Cancelar o disparo #{id}?",
  "shots.confirmCancel.body": "Ninguém mais vai receber esta mensagem. Quem já recebeu continua com ela.",
  "shots.confirmCancel.ok": "Cancelar disparo",
  "shots.confirmCancel.keep": "Manter",
  "shots.cancelled": "Disparo #{id} cancelado.",
  "shots.paused": "Disparo #{id} pausado.",
  "shots.resumed": "Disparo #{id} retomado.",
  "shots.saved": "Disparo #{id} salvo.",
  "shots.media": "Mídia: {type}",
  "shots.buttons": "{n} botões",
  "shots.buttons.one": "1 botão",
  "shots.attempts": "tentativa {n}",

  "form.new": "Novo disparo",
  "form.edit": "Editar disparo #{id}",
  "form.duplicateOf": "Cópia do disparo #{id}",
  "form.audience": "Público",
  "form.audience.help": "Contatos bloqueados e desativados nunca entram.",
  "form.audience.locked": "O público não muda depois de criado; duplique o disparo para trocar.",
  "form.estimate": "≈ {n} contatos",
  "form.estimate.one": "≈ 1 contato",
  "form.estimate.loading": "calculando…",
  "form.recency": "Só quem interagiu nos últimos",
  "form.recency.days": "dias",
  "form.when": "Quando",
  "form.when.now": "Agora",
  "form.when.schedule": "Programar",
  "form.when.tz": "Horário de {tz} ({offset})",
  "form.when.past": "Este horário já passou: o disparo sai assim que salvar.",
  "form.copy": "Mensagem",
  "form.copy.help": "HTML do Telegram: <b>, <i>, <u>, <s>, <a href>, <code>, <pre>, <blockquote>, <tg-spoiler>.",
  "form.copy.placeholder": "Escreva a mensagem. Ex.: <b>Última chance!</b> O bônus acaba hoje.",
  "form.counter": "{n} / {max}",
  "form.counter.caption": "legenda",
  "form.counter.text": "texto",
  "form.counter.over": "{n} caracteres acima do limite do Telegram",
  "form.media": "Mídia",
  "form.media.url": "URL da mídia",
  "form.media.url.placeholder": "https://exemplo.com/imagem.jpg",
  "form.buttons": "Botões",
  "form.buttons.help": "Botões com link, um por linha, abaixo da mensagem.",
  "form.buttons.add": "Adicionar botão",
  "form.buttons.text": "Texto do botão",
  "form.buttons.url": "https://…",
  "form.buttons.link": "Link do botão",
  "form.buttons.remove": "Remover botão",
  "form.test": "Enviar teste",
  "form.test.help": "Manda esta mensagem para um único chat, sem mexer no disparo.",
  "form.test.chat": "ID do chat",
  "form.test.saveFirst": "Salve o disparo para enviar um teste.",
  "form.test.sent": "Teste enviado para {id}.",
  "form.submit.new": "Criar disparo",
  "form.submit.schedule": "Programar disparo",
  "form.submit.edit": "Salvar alterações",
  "form.preview": "Prévia",
  "form.preview.empty": "A prévia da mensagem aparece aqui.",
  "form.preview.problems": "O Telegram recusaria esta mensagem:",
  "form.required": "Preencha este campo.",
  "form.fixErrors": "Corrija os campos destacados.",

  "error.copy": "O Telegram recusaria esta mensagem.",
  "error.media_url": "Use o endereço da mídia começando com https:// (ou http://).",
  "error.media_type": "Escolha o tipo de mídia.",
  "error.scheduled_at": "Confira a data e a hora.",
  "error.recency_days": "Use um número de dias entre 1 e 3650.",
  "error.buttons": "Confira o texto e o link (https:// ou tg://) de cada botão.",
  "error.telegram_id": "O teste não pôde ser entregue a este chat.",
  "error.rate_per_s": "Até 30 mensagens/s; acima disso, só com a transmissão paga ligada.",
  "error.token": "O Telegram não aceitou este token.",
  "error.slug": "Use letras minúsculas, números, - e _ (até 63), sem repetir outro bot.",
  "error.timezone": "Fuso horário desconhecido.",

  "tg.unsupported": "tag não suportada {tag} (aparece como texto)",
  "tg.bareLt": "“<” solto: escreva &lt;",
  "tg.unfinished": "tag {tag} não terminada: feche com >",
  "tg.badAttributeSyntax": "atributo malformado em {tag}: escreva nome=\"valor\"",
  "tg.attributeValue": "{attribute} em {tag} precisa de um valor: {attribute}=\"…\"",
  "tg.attribute": "{tag} não aceita o atributo {attribute}",
  "tg.attributeTwice": "{tag} tem o atributo {attribute} duas vezes",
  "tg.unclosed": "tag {tag} não foi fechada",
  "tg.unexpectedClose": "fechamento {tag} sem abertura",
  "tg.mismatch": "{tag} não fecha a tag aberta {open}",
  "tg.endCase": "feche com {tag}, em minúsculas",
  "tg.endUnnamed": "</> sem nome: escreva a tag que fecha, como </b>",
  "tg.nesting": "{tag} não pode ficar dentro de {outer}",
  "tg.badHref": "link com endereço inválido (use https://, http:// ou tg://)",
  "tg.spanClass": "<span> precisa de class=\"tg-spoiler\" (ou use <tg-spoiler>)",
  "tg.language": "linguagem só em <pre><code class=\"language-…\">",
  "tg.emojiId": "<tg-emoji> precisa de um emoji-id numérico",
  "tg.emojiEmpty": "<tg-emoji> precisa conter o emoji",
  "tg.badEntity": "entidade {entity} desconhecida (use &lt; &gt; &amp; &quot;)",
  "tg.badCharacter": "{entity} não é um caractere que o Telegram decodifica",
  "tg.surrogate": "{entity} é meio par substituto UTF-16: escreva o caractere",
  "tg.entitySemicolon": "falta o “;” da entidade {entity}",
  "tg.bareAmp": "“&” solto: escreva &amp;",

  "stats.title": "Disparo #{id}",
  "stats.rate": "Ritmo",
  "stats.eta": "Previsão de término",
  "stats.duration": "Duração",
  "stats.byReason": "Motivos",
  "stats.byReason.empty": "Nenhum pulo ou erro até agora.",
  "stats.timeline": "Entregas ao longo do tempo",
  "stats.timeline.empty": "O gráfico aparece quando o envio começar.",
  "stats.deliveries": "Destinatários",
  "stats.deliveries.filter": "Filtrar",
  "stats.deliveries.all": "Todos",
  "stats.deliveries.csv": "Baixar CSV",
  "stats.deliveries.empty": "Nenhum destinatário com este filtro.",
  "stats.col.chat": "Chat",
  "stats.col.status": "Situação",
  "stats.col.reason": "Motivo",
  "stats.col.message": "Mensagem",
  "stats.col.when": "Quando",
  "stats.copy": "Mensagem",
  "stats.lastError": "Último erro",

  "reason.blocked": "Bloqueou o bot",
  "reason.deactivated": "Conta desativada",
  "reason.chat_not_found": "Chat não encontrado",
  "reason.ineligible": "Fora do público",
  "reason.timeout": "Sem resposta a tempo",
  "reason.crashed": "Envio interrompido",
  "reason.worker_died": "Envio interrompido",
  "reason.cancelled": "Disparo cancelado",
  "reason.error": "Erro do Telegram",
  "reason.bad_request": "Recusado pelo Telegram",
  "reason.forbidden": "Proibido pelo Telegram",

  "delivery.pending": "Na fila",
  "delivery.sending": "Enviando",
  "delivery.sent": "Enviado",
  "delivery.skipped": "Pulado",
  "delivery.error": "Erro",
  "delivery.unknown": "Desconhecido",

  "bots.title": "Bots",
  "bots.add": "Adicionar bot",
  "bots.add.lead": "Cole o token que o @BotFather deu. O Disparo confere o token com o Telegram.",
  "bots.token": "Token do bot",
  "bots.slug": "Identificador (slug)",
  "bots.slug.help": "Como o Disparo chama o bot: letras minúsculas, números, - e _. Ex.: loja-da-ana.",
  "bots.name": "Nome",
  "bots.rate": "Ritmo (mensagens/s)",
  "bots.rate.help": "Até 30/s; até 1000/s com transmissão paga.",
  "bots.paid": "Transmissão paga (Paid Broadcasts)",
  "bots.timezone": "Fuso horário",
  "bots.mode": "Recebimento",
  "bots.mode.webhook": "webhook",
  "bots.mode.polling": "polling",
  "bots.webhook": "Registrar webhook",
  "bots.webhook.done": "Webhook registrado.",
  "bots.rotateSecret": "Trocar segredo do webhook",
  "bots.confirmRotate.title": "Trocar o segredo do webhook de {slug}?",
  "bots.confirmRotate.body": "O Disparo gera um segredo novo e, se o bot recebe por webhook, registra o webhook de novo no Telegram com ele. Chamadas com o segredo antigo passam a ser recusadas.",
  "bots.confirmRotate.ok": "Trocar segredo",
  "bots.rotated.webhook": "Segredo do webhook de {slug} trocado; webhook registrado de novo no Telegram.",
  "bots.rotated.nowebhook": "Segredo do webhook de {slug} trocado (o bot não recebe por webhook agora).",
  "bots.edit": "Editar",
  "bots.delete": "Excluir",
  "bots.confirmDelete.title": "Excluir o bot {slug}?",
  "bots.confirmDelete.body": "Os contatos e disparos deste bot também são apagados. Não dá para desfazer.",
  "bots.confirmDelete.ok": "Excluir bot",
  "bots.saved": "Bot {slug} salvo.",
  "bots.added": "Bot {slug} adicionado.",
  "bots.deleted": "Bot {slug} excluído.",
  "bots.empty": "Nenhum bot cadastrado ainda.",
  "bots.select": "Selecionar",
  "bots.current": "Selecionado",

  "time.s": "{n} s",
  "time.m": "{n} min",
  "time.ms": "{m} min {s} s",
  "time.h": "{h} h {m} min",
};

const EN = {
  "app.tagline": "Mass broadcasts to the contacts of your Telegram bots",
  "nav.shots": "Shots",
  "nav.bots": "Bots",
  "nav.signout": "Sign out",
  "nav.bot": "Bot",
  "nav.language": "Language",

  "signin.title": "Sign in",
  "signin.lead": "Paste the admin token (DISPARO_ADMIN_TOKEN). It is kept for this tab only.",
  "signin.token": "Admin token",
  "signin.submit": "Sign in",
  "signin.invalid": "Invalid token. Check the value of DISPARO_ADMIN_TOKEN.",
  "signin.expired": "Your session expired. Please sign in again.",
  "signin.unreachable": "Could not reach the server. Is it running?",

  "common.cancel": "Cancel",
  "common.back": "Back",
  "common.close": "Close",
  "common.save": "Save",
  "common.saving": "Saving…",
  "common.confirm": "Confirm",
  "common.loading": "Loading…",
  "common.loadMore": "Load more",
  "common.yes": "Yes",
  "common.no": "No",
  "common.retry": "Try again",
  "common.error": "Something went wrong",

  "status.pending": "Scheduled",
  "status.pending_due": "Queued",
  "status.running": "Sending",
  "status.paused": "Paused",
  "status.sent": "Done",
  "status.skipped": "No audience",
  "status.error": "Failed",
  "status.cancelled": "Cancelled",

  "target.started.long": "Pressed /start",
  "target.pix_created.long": "Generated a PIX",
  "target.recency": "last {n} days",
  "target.recency.one": "last day",

  "media.none": "Text only",
  "media.photo": "Photo",
  "media.video": "Video",
  "media.audio": "Audio",

  "counts.total": "Audience",
  "counts.pending": "Queued",
  "counts.sending": "Sending",
  "counts.sent": "Sent",
  "counts.skipped": "Skipped",
  "counts.error": "Errors",
  "counts.unknown": "Unknown",

  "metrics.title": "Bot contacts",
  "metrics.active": "Active",
  "metrics.blocked": "Blocked",
  "metrics.deactivated": "Deactivated",
  "metrics.total": "Total",
  "metrics.change": "{sign}{n} in 24 h",
  "metrics.nochange": "no change in 24 h",

  "shots.title": "Shots",
  "shots.new": "New shot",
  "shots.empty.title": "No shots yet",
  "shots.empty.lead": "Create the first shot for this bot's contacts.",
  "shots.nobots.title": "No bots yet",
  "shots.nobots.lead": "Add a bot with the token from @BotFather to get started.",
  "shots.nobots.action": "Add a bot",
  "shots.scheduledFor": "Scheduled for {when}",
  "shots.createdAt": "Created {when}",
  "shots.startedAt": "Started {when}",
  "shots.finishedAt": "Finished {when}",
  "shots.progress": "{done} of {total}",
  "shots.audienceWriting": "writing the audience: {total} so far",
  "shots.eta": "done in {eta}",
  "shots.edit": "Edit",
  "shots.cancel": "Cancel",
  "shots.pause": "Pause",
  "shots.resume": "Resume",
  "shots.duplicate": "Duplicate",
  "shots.details": "Statistics",
  "shots.confirmCancel.title": "Cancel shot #{id}?",
  "shots.confirmCancel.body": "Nobody else will receive this message. Those who already got it keep it.",
  "shots.confirmCancel.ok": "Cancel shot",
  "shots.confirmCancel.keep": "Keep it",
  "shots.cancelled": "Shot #{id} cancelled.",
  "shots.paused": "Shot #{id} paused.",
  "shots.resumed": "Shot #{id} resumed.",
  "shots.saved": "Shot #{id} saved.",
  "shots.media": "Media: {type}",
  "shots.buttons": "{n} buttons",
  "shots.buttons.one": "1 button",
  "shots.attempts": "attempt {n}",

  "form.new": "New shot",
  "form.edit": "Edit shot #{id}",
  "form.duplicateOf": "Copy of shot #{id}",
  "form.audience": "Audience",
  "form.audience.help": "Blocked and deactivated contacts are always left out.",
  "form.audience.locked": "The audience is fixed once created; duplicate the shot to change it.",
  "form.estimate": "≈ {n} contacts",
  "form.estimate.one": "≈ 1 contact",
  "form.estimate.loading": "counting…",
  "form.recency": "Only those active in the last",
  "form.recency.days": "days",
  "form.when": "When",
  "form.when.now": "Now",
  "form.when.schedule": "Schedule",
  "form.when.tz": "Time in {tz} ({offset})",
  "form.when.past": "This time has passed: the shot starts as soon as you save.",
  "form.copy": "Message",
  "form.copy.help": "Telegram HTML: <b>, <i>, <u>, <s>, <a href>, <code>, <pre>, <blockquote>, <tg-spoiler>.",
  "form.copy.placeholder": "Write the message. E.g. <b>Last chance!</b> The bonus ends today.",
  "form.counter.caption": "caption",
  "form.counter.text": "text",
  "form.counter.over": "{n} characters over Telegram's limit",
  "form.media": "Media",
  "form.media.url": "Media URL",
  "form.media.url.placeholder": "https://example.com/image.jpg",
  "form.buttons": "Buttons",
  "form.buttons.help": "Link buttons, one per row, below the message.",
  "form.buttons.add": "Add a button",
  "form.buttons.text": "Button text",
  "form.buttons.link": "Button link",
  "form.buttons.remove": "Remove button",
  "form.test": "Send test",
  "form.test.help": "Sends this message to a single chat, leaving the shot untouched.",
  "form.test.chat": "Chat ID",
  "form.test.saveFirst": "Save the shot to send a test.",
  "form.test.sent": "Test sent to {id}.",
  "form.submit.new": "Create shot",
  "form.submit.schedule": "Schedule shot",
  "form.submit.edit": "Save changes",
  "form.preview": "Preview",
  "form.preview.empty": "The message preview shows here.",
  "form.preview.problems": "Telegram would refuse this message:",
  "form.required": "Fill in this field.",
  "form.fixErrors": "Fix the highlighted fields.",

  "error.copy": "Telegram would refuse this message.",
  "error.media_url": "Give the media's address, starting with https:// (or http://).",
  "error.media_type": "Pick a media type.",
  "error.scheduled_at": "Check the date and time.",
  "error.recency_days": "Use a number of days between 1 and 3650.",
  "error.buttons": "Check each button's text and link (https:// or tg://).",
  "error.telegram_id": "The test could not be delivered to this chat.",
  "error.rate_per_s": "Up to 30 messages/s; above that only with paid broadcasts on.",
  "error.token": "Telegram did not accept this token.",
  "error.slug": "Use lower-case letters, digits, - and _ (up to 63), not another bot's.",
  "error.timezone": "Unknown time zone.",

  "tg.unsupported": "unsupported tag {tag} (shown as text)",
  "tg.bareLt": "a bare “<”: write &lt;",
  "tg.unfinished": "tag {tag} is not finished: close it with >",
  "tg.badAttributeSyntax": "malformed attribute in {tag}: write name=\"value\"",
  "tg.attributeValue": "{attribute} in {tag} needs a value: {attribute}=\"…\"",
  "tg.attribute": "{tag} does not take the attribute {attribute}",
  "tg.attributeTwice": "{tag} has the attribute {attribute} twice",
  "tg.unclosed": "tag {tag} is never closed",
  "tg.unexpectedClose": "closing {tag} without an opening tag",
  "tg.mismatch": "{tag} does not close the open tag {open}",
  "tg.endCase": "close it with {tag}, in lower case",
  "tg.endUnnamed": "</> names no tag: write the tag it closes, as in </b>",
  "tg.nesting": "{tag} cannot go inside {outer}",
  "tg.badHref": "link with an invalid address (use https://, http:// or tg://)",
  "tg.spanClass": "<span> needs class=\"tg-spoiler\" (or use <tg-spoiler>)",
  "tg.language": "a language only on <pre><code class=\"language-…\">",
  "tg.emojiId": "<tg-emoji> needs a numeric emoji-id",
  "tg.emojiEmpty": "<tg-emoji> must contain the emoji",
  "tg.badEntity": "unknown entity {entity} (use &lt; &gt; &amp; &quot;)",
  "tg.badCharacter": "{entity} is not a character Telegram decodes",
  "tg.surrogate": "{entity} is half of a UTF-16 surrogate pair: write the character",
  "tg.entitySemicolon": "the entity {entity} lacks its “;”",
  "tg.bareAmp": "a bare “&”: write &amp;",

  "stats.title": "Shot #{id}",
  "stats.rate": "Rate",
  "stats.eta": "Expected finish",
  "stats.duration": "Duration",
  "stats.byReason": "Reasons",
  "stats.byReason.empty": "No skips or errors so far.",
  "stats.timeline": "Deliveries over time",
  "stats.timeline.empty": "The chart appears once sending starts.",
  "stats.deliveries": "Recipients",
  "stats.deliveries.filter": "Filter",
  "stats.deliveries.all": "All",
  "stats.deliveries.csv": "Download CSV",
  "stats.deliveries.empty": "No recipient matches this filter.",
  "stats.col.chat": "Chat",
  "stats.col.status": "Status",
  "stats.col.reason": "Reason",
  "stats.col.message": "Message",
  "stats.col.when": "When",
  "stats.copy": "Message",
  "stats.lastError": "Last error",

  "reason.blocked": "Blocked the bot",
  "reason.deactivated": "Account deactivated",
  "reason.chat_not_found": "Chat not found",
  "reason.ineligible": "No longer in the audience",
  "reason.timeout": "No answer in time",
  "reason.crashed": "Sending interrupted",
  "reason.worker_died": "Sending interrupted",
  "reason.cancelled": "Shot cancelled",
  "reason.error": "Telegram error",
  "reason.bad_request": "Refused by Telegram",
  "reason.forbidden": "Forbidden by Telegram",

  "delivery.pending": "Queued",
  "delivery.sending": "Sending",
  "delivery.sent": "Sent",
  "delivery.skipped": "Skipped",
  "delivery.error": "Error",
  "delivery.unknown": "Unknown",

  "bots.title": "Bots",
  "bots.add": "Add a bot",
  "bots.add.lead": "Paste the token @BotFather gave you. Disparo checks it with Telegram.",
  "bots.token": "Bot token",
  "bots.slug": "Identifier (slug)",
  "bots.slug.help": "How Disparo names the bot: lower-case letters, digits, - and _. E.g. anas-shop.",
  "bots.name": "Name",
  "bots.rate": "Rate (messages/s)",
  "bots.rate.help": "Up to 30/s; up to 1000/s with paid broadcasts.",
  "bots.paid": "Paid broadcasts",
  "bots.timezone": "Time zone",
  "bots.mode": "Updates",
  "bots.webhook": "Register webhook",
  "bots.webhook.done": "Webhook registered.",
  "bots.rotateSecret": "Rotate webhook secret",
  "bots.confirmRotate.title": "Rotate the webhook secret of {slug}?",
  "bots.confirmRotate.body": "Disparo makes a new secret and, if the bot receives updates by webhook, registers the webhook with Telegram again with it. Calls with the old secret are refused from then on.",
  "bots.confirmRotate.ok": "Rotate secret",
  "bots.rotated.webhook": "Webhook secret of {slug} rotated; the webhook was registered with Telegram again.",
  "bots.rotated.nowebhook": "Webhook secret of {slug} rotated (the bot does not receive updates by webhook now).",
  "bots.edit": "Edit",
  "bots.delete": "Delete",
  "bots.confirmDelete.title": "Delete bot {slug}?",
  "bots.confirmDelete.body": "This bot's contacts and shots are deleted too. This cannot be undone.",
  "bots.confirmDelete.ok": "Delete bot",
  "bots.saved": "Bot {slug} saved.",
  "bots.added": "Bot {slug} added.",
  "bots.deleted": "Bot {slug} deleted.",
  "bots.empty": "No bots yet.",
  "bots.select": "Select",
  "bots.current": "Selected",
};

Object.assign(PT, AUDIENCE_PT, TEMPLATES_PT, AB_PT, REPORTS_PT, WEBHOOKS_PT, JOBS_PT, IMPORT_PT, CONTACTS_PT);
Object.assign(EN, AUDIENCE_EN, TEMPLATES_EN, AB_EN, REPORTS_EN, WEBHOOKS_EN, JOBS_EN, IMPORT_EN, CONTACTS_EN);
const DICTS = { "pt-BR": PT, en: { ...PT, ...EN } };
export const LANGS = ["pt-BR", "en"];
const KEY = "disparo.lang";
const listeners = new Set();

let current = LANGS.includes(localStorage.getItem(KEY)) ? localStorage.getItem(KEY) : "pt-BR";
document.documentElement.lang = current;

export function lang() {
  return current;
}

export function setLang(next) {
  if (!LANGS.includes(next) || next === current) return;
  current = next;
  localStorage.setItem(KEY, next);
  document.documentElement.lang = next;
  for (const fn of listeners) fn(next);
}

export function onLangChange(fn) {
  listeners.add(fn);
}

/** The text of `key` in the current language, `{name}` placeholders filled from `vars`. */
export function t(key, vars) {
  const text = DICTS[current][key] ?? PT[key] ?? key;
  if (!vars) return text;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
}

/** `t(key)` when the key exists, else `fallback`. */
export function tOr(key, fallback) {
  return key in DICTS[current] ? t(key) : fallback;
}

export function fmtNumber(n, opts) {
  return new Intl.NumberFormat(current, opts).format(n ?? 0);
}

export function fmtPercent(ratio) {
  return new Intl.NumberFormat(current, { style: "percent", maximumFractionDigits: 0 }).format(ratio || 0);
}

/** A date and time in the bot's time zone, e.g. "12/05/2025, 14:30" (with seconds if asked). */
export function fmtDateTime(iso, timeZone, seconds = false) {
  if (!iso) return t("common.none");
  const date = new Date(iso);
  const style = { dateStyle: "short", timeStyle: seconds ? "medium" : "short" };
  try {
    return new Intl.DateTimeFormat(current, { ...style, timeZone }).format(date);
  } catch {
    return new Intl.DateTimeFormat(current, style).format(date);
  }
}

export function fmtTime(date, timeZone) {
  try {
    return new Intl.DateTimeFormat(current, { timeStyle: "medium", timeZone }).format(date);
  } catch {
    return new Intl.DateTimeFormat(current, { timeStyle: "medium" }).format(date);
  }
}

/** A duration in seconds as "45 s", "3 min 20 s", "2 h 5 min". */
export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return t("common.none");
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return t("time.s", { n: s });
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? t("time.ms", { m, s: s % 60 }) : t("time.m", { n: m });
  return t("time.h", { h: Math.floor(m / 60), m: m % 60 });
}

export function fmtRate(perSecond) {
  return fmtNumber(perSecond || 0, { maximumFractionDigits: 1, minimumFractionDigits: 1 });
}
