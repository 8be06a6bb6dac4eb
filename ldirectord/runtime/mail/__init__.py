"""E-mail alerts: the original's messages, sent in the background, rate limited per real server.

Modules: message.py builds the mail (route, subject, body, headers), limiter.py is the
pure rate limit, transport.py sends (SMTP relay or sendmail), alerts.py is the daemon's
`Alerts` that ties them together with queues, workers and reminders.

What is mailed is the original's (SPEC Part B §5.6): every real/fallback change the engine
marks with a `mail_subject`, to the virtual's `emailalert` list, when the daemon state is
in its `emailalertstatus`. The subject is the log line, prefixed `[<servicename>] ` when the
virtual has one; the body is

    ldirectord host: <hostname>
    Log-Message: <subject>
    Daemon-Status: <starting|running|stopping|reloading>

followed, when the virtual has a servicename or a comment, by a blank line, `Service name:
...` / `Comment: ...` and another blank line. `From:` is `emailalertfrom`, else
`<user>@<hostname>` (also the envelope sender); `To:` is the `emailalert` text as written.
Each attempt logs `emailalert: <log line>` (no prefix, as the original); a failure logs
`failed to send SMTP email message` (relay) or `failed to send email message` (local
mailer), with the reason at debug level.

Transport: with `smtp=<host>` the relay on port 25, or on the port of `smtp=<host>:<port>`
or `smtp=[<IPv6>]:<port>` (plain SMTP, no STARTTLS or AUTH, as the original), one RCPT
per address of a comma-separated list (the original sends the whole list as one
malformed RCPT). Without it, `/usr/sbin/sendmail -t -oi`, exec'd without a shell
with the message on stdin. Both are bounded by `send_timeout`; a mailer that overruns is
killed.

Differences from the original (SPEC Part A §11):
- Nothing blocks the checks. `event` and `tick` only queue; one worker task per virtual
  sends that virtual's mails one at a time, in order (at most `QUEUE_LIMIT` waiting: the
  oldest is dropped, and logged, when a dead relay lets the queue grow). `close` sends what
  is queued for at most `close_timeout` seconds and logs how many mails it gave up on.
- Rate limit: at most one mail per (virtual, real server) every `rate_interval` seconds
  (60 by default). A transition inside that window is logged as usual but held, not
  mailed (the first one held in a window logs `emailalert held back (...)`). When the
  window ends (at the next `tick`) one mail goes out whose subject and Log-Message are the
  latest held transition (the real's current state) and whose body ends with the list of
  the held transitions and their times (when there was more than one), e.g.

      Not mailed at the time (at most one mail per real server every 60 s):
      Thu Nov 26 08:10:32 2026 Deleted real server: 10.0.0.2:80 (10.0.0.1:80)
      Thu Nov 26 08:10:42 2026 Added real server: 10.0.0.2:80 (10.0.0.1:80) (Weight set to 1)

  So a flapping server costs one mail per window, and its last mail tells its current
  state. Held transitions still pending at `close` are mailed then.
- Reminders (`emailalertfreq` > 0) are the original's: taking a real out (quiesce, readd
  quiescent, delete) records it, and every `freq` seconds while it stays out a mail
  `Inaccessible real server: <RIP>:<port> (<VIP>)` is sent (with the servicename prefix).
  Added, Restored and Purged events clear it; fallback deletions never start one. They are
  not rate limited (their period is the operator's choice), but one that falls due while
  transitions of its real are held sends their summary instead, so "inaccessible" never
  arrives before the transition that made it so. A reload keeps reminders, with the new
  file's settings for their virtual; a virtual gone from the file drops them.

Clocks: `clock()` (the loop's by default) times events, windows and reminders;
`tick(now, ...)` takes the same clock's time, as the supervisor gives it. `wall()`
(`time.time` by default) is read only for what a mail prints: the stamps of held
transitions and the Date header.
"""

