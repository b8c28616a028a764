## Mail. Plain text; { $site } is the service's name, { $name } the user's.

mail-greeting = Hello { $name },
mail-signature = — { $site }
mail-not-you = If this was not you, do not open the link; your account stays as it is.

mail-verify-subject = Confirm your email address for { $site }
mail-verify-body =
    please confirm that this address is yours by opening this link:

    { $link }

    The link works for { $hours ->
        [one] one hour
       *[other] { $hours } hours
    }.

mail-new-address-subject = Confirm your new email address for { $site }
mail-new-address-body =
    someone asked to make { $address } the email address of your { $site } account.
    To confirm it, open this link:

    { $link }

    The link works for { $hours ->
        [one] one hour
       *[other] { $hours } hours
    }. Until it is opened, your old address stays in use.

mail-address-change-subject = Your { $site } email address is being changed
mail-address-change-body =
    on { $when }, someone signed in to your account asked to change its email address to
    { $address }, from { $device } (address { $ip }). The change happens only when a link
    mailed to the new address is opened.

    If this was not you, sign in, change your password, and sign out your other devices on
    the account page. Your address stays as it is until the link is opened.

mail-reset-subject = Reset your { $site } password
mail-reset-body =
    someone asked to reset the password of your { $site } account, on { $when }, from
    { $device } (address { $ip }). To choose a new password, open this link:

    { $link }

    The link works for { $minutes ->
        [one] one minute
       *[other] { $minutes } minutes
    }, once. If you did not ask for it, ignore this mail: your password stays as it is.

mail-password-changed-subject = Your { $site } password was changed
mail-password-changed-body =
    the password of your { $site } account was changed on { $when }, from { $device }
    (address { $ip }). Every other signed-in device was signed out.

    If this was not you, reset your password now with "Forgot your password?" on the sign-in
    page, and tell your administrator.

mail-2fa-enabled-subject = Two-step sign-in was turned on for your { $site } account
mail-2fa-enabled-body =
    two-step sign-in was turned on for your { $site } account on { $when }, from { $device }
    (address { $ip }). From now on, signing in takes your password and a code from your
    authenticator app (or one of your recovery codes).

    If this was not you, someone has your password: sign in, turn it off, change your
    password, and tell your administrator.

mail-2fa-disabled-subject = Two-step sign-in was turned off for your { $site } account
mail-2fa-disabled-body =
    two-step sign-in was turned off for your { $site } account on { $when }, from { $device }
    (address { $ip }). Your password alone now signs in.

    If this was not you, change your password now, turn two-step sign-in on again, and tell
    your administrator.

mail-recovery-codes-subject = New recovery codes for your { $site } account
mail-recovery-codes-body =
    a new set of recovery codes was made for your { $site } account on { $when }, from
    { $device } (address { $ip }). The old codes no longer work.

    If this was not you, change your password now and tell your administrator.

mail-test-subject = A test message from { $site }
mail-test-body =
    this is a test message sent with `gatehouse mail test`. If you read it, { $site } can
    send mail.
