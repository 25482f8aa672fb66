"""Service code shared by the notification modules.

Two kinds of module use it: the MISP-facing action modules (``mattermost``, ``ms_teams``,
``telegram``, ``send_mail``, ``http_webhook``) and the runner-only variants that re-implement
MISP's own nodes (``webhook``, ``ms-teams-webhook``, ``telegram-send-alert``, ``send-mail``,
``send-log-mail``). One file per service, plus the pieces they all need: :mod:`misp_modules.lib.http` (timeouts,
bounded retry on 429, error wording, where a URL may lead), :mod:`.summary` (template context and default templates),
:mod:`.recipients` (MISP users as e-mail recipients) and :mod:`.action` (the MISP-facing module
request/response).
"""

