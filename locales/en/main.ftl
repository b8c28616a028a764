# gatehouse: English. Every key here must exist in ko/main.ftl too (tests/i18n.rs checks).

## Layout
skip-link = Skip to main content
nav-label = Account
nav-dashboard = Dashboard
nav-account = Account
nav-sign-in = Sign in
nav-create-account = Create account
nav-sign-out = Sign out
nav-signed-in-as = Signed in as
footer-text = Protected by { $site }. Sessions are signed, short-lived and end when you sign out.
language-label = Language
language-switch = 한국어

## Forms
show-password = Show
hide-password = Hide
show-password-label = Show password
hide-password-label = Hide password
error-summary = Please fix the following:
strength-label = Password strength
strength-0 = Very weak
strength-1 = Weak
strength-2 = Fair
strength-3 = Strong
strength-4 = Very strong
strength-ok = Strong enough.

## Sign in
login-title = Sign in
login-username = Username or email
login-password = Password
login-remember = Keep me signed in on this device
login-submit = Sign in
login-new-here = New here?
login-create-link = Create an account
login-failed = Incorrect username or password.

## Register
register-title = Create your account
register-username = Username
register-username-hint = 3 to 32 letters, digits, dots, dashes or underscores.
register-email = Email
register-password = Password
register-password-hint = At least 8 characters. A few unrelated words make a strong password.
register-password-confirm = Repeat password
register-submit = Create account
register-have-account = Already have an account?
register-sign-in-link = Sign in
register-welcome = Welcome, { $name }! Your account is ready.
register-verify-first = Your account is made. Open the link we mailed you to confirm your address, then sign in.

## Dashboard
dashboard-title = Dashboard
dashboard-welcome = Welcome, { $name }
dashboard-lead = You are signed in. Apps on this domain that trust { $site } recognise you too.
dashboard-last-login = Last signed in { $when } from { $ip }.
dashboard-not-you = Not you?
dashboard-change-password-link = Change your password
dashboard-and = and
dashboard-check-devices-link = check your devices
dashboard-first-login = This is your first sign-in.
dashboard-session = This session
dashboard-started = Started
dashboard-ends-idle = Ends if unused
dashboard-ends-idle-note = using the site extends it
dashboard-ends-latest = Ends at the latest
dashboard-remembered = Kept after closing the browser
yes = Yes
no = No

## Account
account-title = Your account
account-profile = Profile
account-username = Username
account-email = Email
account-member-since = Member since
account-last-login = Last sign-in
account-devices-link = Signed-in devices
account-change-password = Change password
account-change-password-hint = Changing your password signs out every other device.
account-current-password = Current password
account-new-password = New password
account-new-password-confirm = Repeat new password
account-change-submit = Change password
account-activity = Recent security activity
account-no-activity = No activity yet.
account-delete = Delete account
account-delete-warning = This deletes your account and signs out all your devices. It cannot be undone.
account-delete-submit = Delete my account
account-password-changed = Your password was changed.
account-others-signed-out = { $count ->
    [0] { "" }
    [one] Your other signed-in device was signed out.
   *[other] Your { $count } other signed-in devices were signed out.
}
account-deleted = Your account and all its sessions were deleted.
account-wrong-current = Your current password is not correct.
account-same-password = Choose a password different from the current one.

## Devices
sessions-title = Signed-in devices
sessions-lead = Every browser where you are signed in. Sign out any you do not recognise, then change your password.
sessions-this-device = This device
sessions-address = Address
sessions-signed-in = Signed in
sessions-last-active = Last active
sessions-ends = Ends
sessions-remembered = (remembered)
sessions-sign-out = Sign out
sessions-sign-out-this = Sign out this device
sessions-sign-out-others = Sign out all other devices
sessions-revoked-one = That device was signed out.
sessions-revoked-this = You signed out this device.
sessions-revoked-others = { $count ->
    [0] There were no other devices to sign out.
    [one] Your other device was signed out.
   *[other] Your { $count } other devices were signed out.
}
device-on = { $browser } on { $os }
device-unknown = Unknown device
device-unknown-browser = Unknown browser

## Activity
event-registered = Account created
event-login-succeeded = Signed in
event-login-failed = Failed sign-in attempt
event-wrong-current-password = Wrong current password entered
event-login-throttled = Sign-in blocked after too many failures
event-login-throttled-repeated = Sign-in blocked after too many failures ({ $count } attempts)
event-logout = Signed out
event-session-revoked = Signed out a device
event-session-revoked-all = Signed out all other devices
event-password-changed = Password changed
event-account-disabled = Account disabled by an administrator
event-account-enabled = Account enabled by an administrator
event-account-deleted = Account deleted
event-bans-cleared = Sign-in block lifted by an administrator
event-email-verified = Email address confirmed
event-email-change-requested = Change of email address asked for
event-email-changed = Email address changed
event-password-reset-mailed = Password reset link mailed
event-wrong-second-factor = Wrong second-factor code
event-second-factor-enabled = Two-step sign-in turned on
event-second-factor-disabled = Two-step sign-in turned off
event-second-factor-reset = Two-step sign-in turned off by an administrator
event-recovery-codes-regenerated = New recovery codes made
event-other = Security event

## Sign-out
logout-done = You have been signed out.
logout-already = You are signed out.

## Field errors
error-username-short = Use at least 3 characters.
error-username-long = Use at most 32 characters.
error-username-chars = Use only letters, digits, dots, dashes and underscores.
error-username-no-alnum = Include at least one letter or digit.
error-username-mixed-script = Use letters from one script only (lookalike letters are not allowed).
error-username-taken = That username is taken. Choose another.
error-email-empty = Enter your email address.
error-email-long = Use at most 254 characters.
error-email-invalid = Enter an address like name@example.com.
error-email-taken = An account with this email address already exists. Sign in instead.
error-email-unsendable = Mail cannot be sent to this address. Use another one.
error-email-same = This is already your address.
error-just-taken = That username or email address was just taken. Try again.
error-password-short = Use at least { $min } characters.
error-password-long = Use at most { $max } characters.
error-password-control = Passwords cannot contain control characters.
error-password-weak = This password is too easy to guess. { $advice }
error-password-mismatch = The passwords do not match.

## Password advice (from the strength estimate)
advice-default = Add another word or two.
advice-straight-row = Straight rows of keys are easy to guess.
advice-short-pattern = Short keyboard patterns are easy to guess.
advice-repeats-simple = Repeats like "aaa" are easy to guess.
advice-repeats-complex = Repeats like "abcabcabc" are only slightly harder to guess than "abc".
advice-sequences = Sequences like "abc" or "6543" are easy to guess.
advice-recent-years = Recent years are easy to guess.
advice-dates = Dates are often easy to guess.
advice-top10 = This is a top-10 common password.
advice-top100 = This is a top-100 common password.
advice-common = This is a very common password.
advice-similar-common = This is similar to a commonly used password.
advice-word = A word by itself is easy to guess.
advice-names = Names and surnames by themselves are easy to guess.
advice-common-names = Common names and surnames are easy to guess.
advice-personal = Do not use your name, email or this site's name.
advice-add-words = Use a few words; avoid common phrases.
advice-no-symbols = No need for symbols, digits, or uppercase letters.
advice-longer-pattern = Use a longer keyboard pattern with more turns.
advice-avoid-repeats = Avoid repeated words and characters.
advice-avoid-sequences = Avoid sequences.
advice-avoid-years = Avoid recent years and years associated with you.
advice-avoid-dates = Avoid dates associated with you.
advice-caps = Capitalization does not help very much.
advice-all-caps = All-uppercase is almost as easy to guess as all-lowercase.
advice-reversed = Reversed words are not much harder to guess.
advice-substitutions = Predictable substitutions like "@" instead of "a" do not help very much.

## Error pages
error-code = Error { $code }
error-home = Go to the start page
error-400-title = Bad request
error-400 = The request could not be understood. Go back and try again.
error-401-title = Sign-in required
error-401 = Sign in to continue.
error-403-title = Not allowed
error-403 = This form has expired or did not come from this site. Go back, reload the page and try again.
error-404-title = Page not found
error-404 = There is nothing at this address.
error-405-title = Method not allowed
error-405 = This address does not accept that kind of request.
error-408-title = Too slow
error-408 = The request took too long to arrive. Try again.
error-413-title = Too large
error-413 = What you sent is too large.
error-415-title = Unsupported content type
error-415 = This address does not accept that kind of content.
error-422-title = Check your input
error-422 = Some of what you entered could not be accepted.
error-429-title = Too many attempts
error-429 = Too many attempts. Wait a moment, then try again.
error-500-title = Something went wrong
error-500 = Something went wrong on our side. It has been logged; please try again.
error-503-title = Temporarily unavailable
error-503 = The service is temporarily unavailable. Try again in a moment.
error-other-title = Error
error-other = The request could not be completed.
error-cross-site = This form was sent from another site, so it was refused.
error-cross-origin = This form was sent from another origin than this site's, so it was refused. Open the site at its configured address and try again.
error-no-csrf-cookie = Your browser did not send this site's security cookie. Allow cookies for this site, reload the page and try again.
error-csrf = This form has expired or did not come from this site. Go back, reload the page and try again.
error-form-type = Forms must be sent as application/x-www-form-urlencoded.
error-busy = Too many sign-ins are being processed right now.

## Dates
date-format = { $day } { $month } { $year }, { $time } UTC
month-1 = Jan
month-2 = Feb
month-3 = Mar
month-4 = Apr
month-5 = May
month-6 = Jun
month-7 = Jul
month-8 = Aug
month-9 = Sep
month-10 = Oct
month-11 = Nov
month-12 = Dec

## Mail: password reset, address verification.
mail-off = This server sends no mail, so this cannot be done here. Ask the administrator.
login-forgot-link = Forgot your password?

forgot-title = Reset your password
forgot-lead = Enter the email address of your account. If an account has it, we mail it a link to choose a new password.
forgot-email = Email address
forgot-submit = Send the link
forgot-back = Back to sign in
forgot-mail-off = This server sends no mail, so passwords cannot be reset here. Ask the administrator to reset yours.
forgot-sent-title = Check your mail
forgot-sent-text = If an account has this address, a link to choose a new password is on its way. It works for { $minutes ->
        [one] one minute
       *[other] { $minutes } minutes
    }, once.
forgot-sent-hint = Nothing after a few minutes? Look in your spam folder, or check that this is the address of your account.

reset-title = Choose a new password
reset-lead = Your new password signs out every device where you are signed in.
reset-new-password = New password
reset-new-password-confirm = Repeat new password
reset-submit = Set new password
reset-invalid-title = This link does not work
reset-invalid-text = The link has been used already, has expired, or was replaced by a newer one.
reset-ask-again = Ask for a new link
reset-done = Your password was changed and every device was signed out. Sign in with the new password.

email-verified-title = Address confirmed
email-verified-text = { $email } is confirmed as your email address.
email-changed-text = Your email address is now { $email }.
email-verified-continue = Continue
email-invalid-title = This link does not work
email-invalid-text = The link has expired, is incomplete, or was replaced by a newer one. You can ask for a new one on your account page.
email-invalid-taken = Another account uses this address now, so it cannot become yours.
email-invalid-account = Go to your account

verify-required-title = Confirm your email address first
verify-required-text = Your password is correct, but this account’s email address is not confirmed yet. Open the link we mailed you, or ask for a new one.
verify-required-resend = Mail me a new link
verify-required-sent = If the account still needs it, a new link is on its way.

account-email-title = Email address
account-email-verified = verified
account-email-unverified = unverified
account-email-resend = Mail the confirmation link again
account-email-new = New email address
account-email-hint = We mail a link to the new address; the change takes effect when you open it. Your current address is told about the change.
account-email-submit = Change email address
account-email-mail-off = This server sends no mail, so the address cannot be confirmed or changed here.
account-email-change-sent = A link is on its way to the new address. Your address changes when you open it.
account-email-verification-sent = A new confirmation link is on its way.
account-email-already-verified = Your address is already confirmed.
dashboard-email-unverified = Your email address is not confirmed yet. Open the link we mailed you.

## Two-step sign-in
twofa-title = Two-step sign-in
twofa-lead = With two-step sign-in, signing in takes your password and a code from an authenticator app on your phone, so a stolen password alone does not open your account.
twofa-qr-label = QR code for your authenticator app
twofa-codes-title = Your recovery codes
twofa-codes-text = Keep these codes somewhere safe, away from your phone. Each one signs you in once if you lose your authenticator. They are shown only now.
twofa-codes-download = Download as a text file
twofa-codes-file-title = gatehouse recovery codes: each works once.
twofa-status-title = Status
twofa-on = On
twofa-off = Off
twofa-on-since = since
twofa-codes-left = { $count ->
        [one] 1 recovery code left.
       *[other] { $count } recovery codes left.
    }
twofa-new-codes-title = New recovery codes
twofa-new-codes-hint = Makes a new set of ten codes; the old ones stop working.
twofa-new-codes-submit = Make new codes
twofa-disable-title = Turn two-step sign-in off
twofa-disable-hint = Your password alone will sign you in again. Enter a code from your app or a recovery code.
twofa-disable-submit = Turn it off
twofa-code-or-recovery = Code from your app, or a recovery code
twofa-setup-title = Turn two-step sign-in on
twofa-setup-scan = Scan this QR code with an authenticator app (for example Aegis, Google Authenticator or 1Password).
twofa-setup-manual = Or type this key into the app:
twofa-setup-confirm = Enter the six-digit code the app shows, and your password.
twofa-code = Six-digit code
twofa-setup-submit = Turn on
twofa-back = Back to your account
twofa-wrong-code = That code is not right (or was used already). Try the current one.
twofa-setup-expired = This setup page is too old. Scan the new code below and try again.
twofa-already-on = Two-step sign-in is already on.
twofa-not-on = Two-step sign-in is not on.
twofa-turned-off = Two-step sign-in is off.
twofa-step-expired = That sign-in took too long. Please sign in again.
login-2fa-title = Enter your code
login-2fa-hint = Open your authenticator app and enter the six-digit code for gatehouse. Lost your phone? Enter one of your recovery codes.
login-2fa-submit = Sign in
login-2fa-start-again = Start again
account-2fa-title = Two-step sign-in
account-2fa-on = Two-step sign-in is on.
account-2fa-off = Two-step sign-in is off.
account-2fa-link = Manage two-step sign-in
