# gatehouse: 한국어. en/main.ftl과 같은 키를 모두 가져야 합니다 (tests/i18n.rs가 확인).

## Layout
skip-link = 본문으로 건너뛰기
nav-label = 계정
nav-dashboard = 대시보드
nav-account = 계정
nav-sign-in = 로그인
nav-create-account = 계정 만들기
nav-sign-out = 로그아웃
nav-signed-in-as = 로그인한 사용자
footer-text = { $site }가 보호합니다. 세션은 서명되어 있고 수명이 짧으며 로그아웃하면 끝납니다.
language-label = 언어
language-switch = English

## Forms
show-password = 보기
hide-password = 숨기기
show-password-label = 비밀번호 보기
hide-password-label = 비밀번호 숨기기
error-summary = 다음 항목을 고쳐 주세요:
strength-label = 비밀번호 강도
strength-0 = 매우 약함
strength-1 = 약함
strength-2 = 보통
strength-3 = 강함
strength-4 = 매우 강함
strength-ok = 충분히 강합니다.

## Sign in
login-title = 로그인
login-username = 사용자 이름 또는 이메일
login-password = 비밀번호
login-remember = 이 기기에서 로그인 상태 유지
login-submit = 로그인
login-new-here = 처음이신가요?
login-create-link = 계정 만들기
login-failed = 사용자 이름 또는 비밀번호가 올바르지 않습니다.

## Register
register-title = 계정 만들기
register-username = 사용자 이름
register-username-hint = 3~32자의 문자, 숫자, 점, 하이픈 또는 밑줄.
register-email = 이메일
register-password = 비밀번호
register-password-hint = 8자 이상. 서로 관계없는 단어 몇 개를 이으면 강한 비밀번호가 됩니다.
register-password-confirm = 비밀번호 확인
register-submit = 계정 만들기
register-have-account = 이미 계정이 있으신가요?
register-sign-in-link = 로그인
register-welcome = { $name }님, 환영합니다! 계정이 준비되었습니다.
register-verify-first = 계정이 만들어졌습니다. 메일로 보낸 링크를 열어 주소를 확인한 다음 로그인하세요.

## Dashboard
dashboard-title = 대시보드
dashboard-welcome = { $name }님, 환영합니다
dashboard-lead = 로그인되어 있습니다. { $site }를 신뢰하는 이 도메인의 앱들도 사용자를 알아봅니다.
dashboard-last-login = 마지막 로그인: { $when }, { $ip }에서.
dashboard-not-you = 본인이 아닌가요?
dashboard-change-password-link = 비밀번호를 바꾸고
dashboard-and = { "" }
dashboard-check-devices-link = 기기를 확인하세요
dashboard-first-login = 첫 로그인입니다.
dashboard-session = 이 세션
dashboard-started = 시작
dashboard-ends-idle = 사용하지 않으면 종료
dashboard-ends-idle-note = 사이트를 사용하면 연장됩니다
dashboard-ends-latest = 늦어도 종료
dashboard-remembered = 브라우저를 닫아도 유지
yes = 예
no = 아니요

## Account
account-title = 내 계정
account-profile = 프로필
account-username = 사용자 이름
account-email = 이메일
account-member-since = 가입일
account-last-login = 마지막 로그인
account-devices-link = 로그인된 기기
account-change-password = 비밀번호 변경
account-change-password-hint = 비밀번호를 바꾸면 다른 모든 기기에서 로그아웃됩니다.
account-current-password = 현재 비밀번호
account-new-password = 새 비밀번호
account-new-password-confirm = 새 비밀번호 확인
account-change-submit = 비밀번호 변경
account-activity = 최근 보안 활동
account-no-activity = 아직 활동이 없습니다.
account-delete = 계정 삭제
account-delete-warning = 계정을 삭제하고 모든 기기에서 로그아웃합니다. 되돌릴 수 없습니다.
account-delete-submit = 내 계정 삭제
account-password-changed = 비밀번호가 변경되었습니다.
account-others-signed-out = { $count ->
    [0] { "" }
   *[other] 다른 기기 { $count }대에서 로그아웃되었습니다.
}
account-deleted = 계정과 모든 세션이 삭제되었습니다.
account-wrong-current = 현재 비밀번호가 올바르지 않습니다.
account-same-password = 현재 비밀번호와 다른 비밀번호를 고르세요.

## Devices
sessions-title = 로그인된 기기
sessions-lead = 로그인되어 있는 모든 브라우저입니다. 모르는 기기는 로그아웃하고 비밀번호를 바꾸세요.
sessions-this-device = 이 기기
sessions-address = 주소
sessions-signed-in = 로그인
sessions-last-active = 마지막 활동
sessions-ends = 종료
sessions-remembered = (유지됨)
sessions-sign-out = 로그아웃
sessions-sign-out-this = 이 기기에서 로그아웃
sessions-sign-out-others = 다른 모든 기기에서 로그아웃
sessions-revoked-one = 그 기기에서 로그아웃했습니다.
sessions-revoked-this = 이 기기에서 로그아웃했습니다.
sessions-revoked-others = { $count ->
    [0] 로그아웃할 다른 기기가 없습니다.
   *[other] 다른 기기 { $count }대에서 로그아웃했습니다.
}
device-on = { $os }의 { $browser }
device-unknown = 알 수 없는 기기
device-unknown-browser = 알 수 없는 브라우저

## Activity
event-registered = 계정 생성
event-login-succeeded = 로그인
event-login-failed = 로그인 실패
event-wrong-current-password = 현재 비밀번호를 잘못 입력함
event-login-throttled = 실패가 너무 많아 로그인이 차단됨
event-login-throttled-repeated = 실패가 너무 많아 로그인이 차단됨 ({ $count }회 시도)
event-logout = 로그아웃
event-session-revoked = 기기 로그아웃
event-session-revoked-all = 다른 모든 기기 로그아웃
event-password-changed = 비밀번호 변경
event-account-disabled = 관리자가 계정을 비활성화함
event-account-enabled = 관리자가 계정을 활성화함
event-account-deleted = 계정 삭제
event-bans-cleared = 관리자가 로그인 차단을 해제함
event-email-verified = 이메일 주소 확인됨
event-email-change-requested = 이메일 주소 변경 요청됨
event-email-changed = 이메일 주소 변경됨
event-password-reset-mailed = 비밀번호 재설정 링크를 메일로 보냄
event-wrong-second-factor = 잘못된 2단계 인증 코드
event-second-factor-enabled = 2단계 로그인 켜짐
event-second-factor-disabled = 2단계 로그인 꺼짐
event-second-factor-reset = 관리자가 2단계 로그인을 끔
event-recovery-codes-regenerated = 새 복구 코드 생성
event-other = 보안 이벤트

## Sign-out
logout-done = 로그아웃했습니다.
logout-already = 로그아웃된 상태입니다.

## Field errors
error-username-short = 3자 이상 입력하세요.
error-username-long = 32자 이하로 입력하세요.
error-username-chars = 문자, 숫자, 점, 하이픈, 밑줄만 쓸 수 있습니다.
error-username-no-alnum = 문자나 숫자를 하나 이상 넣으세요.
error-username-mixed-script = 한 가지 문자 체계의 글자만 쓰세요 (비슷하게 생긴 다른 문자는 쓸 수 없습니다).
error-username-taken = 이미 쓰이는 사용자 이름입니다. 다른 이름을 고르세요.
error-email-empty = 이메일 주소를 입력하세요.
error-email-long = 254자 이하로 입력하세요.
error-email-invalid = name@example.com 같은 주소를 입력하세요.
error-email-taken = 이 이메일 주소로 된 계정이 이미 있습니다. 로그인하세요.
error-email-unsendable = 이 주소로는 메일을 보낼 수 없습니다. 다른 주소를 쓰세요.
error-email-same = 이미 사용 중인 주소입니다.
error-just-taken = 그 사용자 이름이나 이메일 주소를 방금 다른 사람이 가져갔습니다. 다시 시도하세요.
error-password-short = { $min }자 이상 입력하세요.
error-password-long = { $max }자 이하로 입력하세요.
error-password-control = 비밀번호에는 제어 문자를 쓸 수 없습니다.
error-password-weak = 너무 쉽게 추측할 수 있는 비밀번호입니다. { $advice }
error-password-mismatch = 비밀번호가 서로 다릅니다.

## Password advice (from the strength estimate)
advice-default = 단어를 한두 개 더 넣으세요.
advice-straight-row = 자판에서 한 줄로 이어진 키는 추측하기 쉽습니다.
advice-short-pattern = 짧은 자판 패턴은 추측하기 쉽습니다.
advice-repeats-simple = "aaa" 같은 반복은 추측하기 쉽습니다.
advice-repeats-complex = "abcabcabc" 같은 반복은 "abc"보다 조금 어려울 뿐입니다.
advice-sequences = "abc"나 "6543" 같은 연속된 문자는 추측하기 쉽습니다.
advice-recent-years = 최근 연도는 추측하기 쉽습니다.
advice-dates = 날짜는 흔히 추측하기 쉽습니다.
advice-top10 = 가장 흔한 비밀번호 10개 중 하나입니다.
advice-top100 = 가장 흔한 비밀번호 100개 중 하나입니다.
advice-common = 매우 흔한 비밀번호입니다.
advice-similar-common = 흔히 쓰는 비밀번호와 비슷합니다.
advice-word = 단어 하나만으로는 추측하기 쉽습니다.
advice-names = 이름이나 성만으로는 추측하기 쉽습니다.
advice-common-names = 흔한 이름과 성은 추측하기 쉽습니다.
advice-personal = 내 이름, 이메일, 이 사이트의 이름은 쓰지 마세요.
advice-add-words = 단어 몇 개를 쓰되 흔한 문구는 피하세요.
advice-no-symbols = 기호, 숫자, 대문자가 꼭 필요하지는 않습니다.
advice-longer-pattern = 더 길고 꺾임이 많은 자판 패턴을 쓰세요.
advice-avoid-repeats = 반복되는 단어와 문자는 피하세요.
advice-avoid-sequences = 연속된 문자는 피하세요.
advice-avoid-years = 최근 연도나 나와 관련된 연도는 피하세요.
advice-avoid-dates = 나와 관련된 날짜는 피하세요.
advice-caps = 대문자를 섞는 것은 별 도움이 되지 않습니다.
advice-all-caps = 모두 대문자로 쓴 것은 모두 소문자로 쓴 것만큼 쉽게 추측됩니다.
advice-reversed = 거꾸로 쓴 단어도 추측하기 그리 어렵지 않습니다.
advice-substitutions = "a" 대신 "@"를 쓰는 식의 뻔한 치환은 별 도움이 되지 않습니다.

## Error pages
error-code = 오류 { $code }
error-home = 첫 페이지로 가기
error-400-title = 잘못된 요청
error-400 = 요청을 이해할 수 없습니다. 뒤로 가서 다시 시도하세요.
error-401-title = 로그인 필요
error-401 = 계속하려면 로그인하세요.
error-403-title = 허용되지 않음
error-403 = 이 양식은 만료되었거나 이 사이트에서 보낸 것이 아닙니다. 뒤로 가서 페이지를 새로 고친 뒤 다시 시도하세요.
error-404-title = 페이지를 찾을 수 없음
error-404 = 이 주소에는 아무것도 없습니다.
error-405-title = 허용되지 않는 방식
error-405 = 이 주소는 그런 방식의 요청을 받지 않습니다.
error-408-title = 요청 시간 초과
error-408 = 요청이 도착하는 데 너무 오래 걸렸습니다. 다시 시도하세요.
error-413-title = 너무 큼
error-413 = 보낸 내용이 너무 큽니다.
error-415-title = 지원하지 않는 형식
error-415 = 이 주소는 그런 형식의 내용을 받지 않습니다.
error-422-title = 입력을 확인하세요
error-422 = 입력한 내용 중 일부를 받아들일 수 없습니다.
error-429-title = 시도가 너무 많음
error-429 = 시도가 너무 많습니다. 잠시 기다린 뒤 다시 시도하세요.
error-500-title = 문제가 생겼습니다
error-500 = 서버 쪽에서 문제가 생겼습니다. 기록해 두었으니 다시 시도해 주세요.
error-503-title = 일시적으로 사용할 수 없음
error-503 = 서비스를 잠시 사용할 수 없습니다. 잠시 뒤 다시 시도하세요.
error-other-title = 오류
error-other = 요청을 처리할 수 없습니다.
error-cross-site = 다른 사이트에서 보낸 양식이라서 거부했습니다.
error-cross-origin = 이 사이트가 아닌 다른 출처에서 보낸 양식이라서 거부했습니다. 설정된 주소로 사이트를 열고 다시 시도하세요.
error-no-csrf-cookie = 브라우저가 이 사이트의 보안 쿠키를 보내지 않았습니다. 이 사이트의 쿠키를 허용하고 페이지를 새로 고친 뒤 다시 시도하세요.
error-csrf = 이 양식은 만료되었거나 이 사이트에서 보낸 것이 아닙니다. 뒤로 가서 페이지를 새로 고친 뒤 다시 시도하세요.
error-form-type = 양식은 application/x-www-form-urlencoded 형식으로 보내야 합니다.
error-busy = 지금은 처리 중인 로그인이 너무 많습니다.

## Dates
date-format = { $year }년 { $month } { $day }일 { $time } UTC
month-1 = 1월
month-2 = 2월
month-3 = 3월
month-4 = 4월
month-5 = 5월
month-6 = 6월
month-7 = 7월
month-8 = 8월
month-9 = 9월
month-10 = 10월
month-11 = 11월
month-12 = 12월

## Mail: password reset, address verification.
mail-off = 이 서버는 메일을 보내지 않아 여기서는 할 수 없습니다. 관리자에게 문의하세요.
login-forgot-link = 비밀번호를 잊으셨나요?

forgot-title = 비밀번호 재설정
forgot-lead = 계정의 이메일 주소를 입력하세요. 그 주소를 쓰는 계정이 있으면 새 비밀번호를 정할 수 있는 링크를 보내 드립니다.
forgot-email = 이메일 주소
forgot-submit = 링크 보내기
forgot-back = 로그인으로 돌아가기
forgot-mail-off = 이 서버는 메일을 보내지 않아 여기서 비밀번호를 재설정할 수 없습니다. 관리자에게 재설정을 요청하세요.
forgot-sent-title = 메일을 확인하세요
forgot-sent-text = 이 주소를 쓰는 계정이 있으면 새 비밀번호를 정할 수 있는 링크를 보냈습니다. 링크는 { $minutes }분 동안 한 번만 쓸 수 있습니다.
forgot-sent-hint = 몇 분이 지나도 오지 않으면 스팸함을 보거나, 계정의 주소가 맞는지 확인하세요.

reset-title = 새 비밀번호 정하기
reset-lead = 새 비밀번호를 정하면 로그인된 모든 기기에서 로그아웃됩니다.
reset-new-password = 새 비밀번호
reset-new-password-confirm = 새 비밀번호 확인
reset-submit = 새 비밀번호 저장
reset-invalid-title = 이 링크는 쓸 수 없습니다
reset-invalid-text = 이미 쓰였거나, 만료되었거나, 더 새 링크로 바뀐 링크입니다.
reset-ask-again = 새 링크 요청하기
reset-done = 비밀번호가 바뀌었고 모든 기기에서 로그아웃되었습니다. 새 비밀번호로 로그인하세요.

email-verified-title = 주소 확인 완료
email-verified-text = { $email } 주소가 확인되었습니다.
email-changed-text = 이제 이메일 주소는 { $email }입니다.
email-verified-continue = 계속
email-invalid-title = 이 링크는 쓸 수 없습니다
email-invalid-text = 만료되었거나, 잘렸거나, 더 새 링크로 바뀐 링크입니다. 계정 페이지에서 새 링크를 요청할 수 있습니다.
email-invalid-taken = 이제 다른 계정이 이 주소를 쓰고 있어 바꿀 수 없습니다.
email-invalid-account = 계정으로 가기

verify-required-title = 먼저 이메일 주소를 확인하세요
verify-required-text = 비밀번호는 맞지만 이 계정의 이메일 주소가 아직 확인되지 않았습니다. 메일로 보낸 링크를 열거나 새 링크를 요청하세요.
verify-required-resend = 새 링크 보내기
verify-required-sent = 계정에 필요하면 새 링크를 보냈습니다.

account-email-title = 이메일 주소
account-email-verified = 확인됨
account-email-unverified = 확인 안 됨
account-email-resend = 확인 링크 다시 보내기
account-email-new = 새 이메일 주소
account-email-hint = 새 주소로 링크를 보내며, 링크를 열면 바뀝니다. 지금 주소에도 변경을 알려 드립니다.
account-email-submit = 이메일 주소 바꾸기
account-email-mail-off = 이 서버는 메일을 보내지 않아 여기서 주소를 확인하거나 바꿀 수 없습니다.
account-email-change-sent = 새 주소로 링크를 보냈습니다. 링크를 열면 주소가 바뀝니다.
account-email-verification-sent = 새 확인 링크를 보냈습니다.
account-email-already-verified = 주소가 이미 확인되었습니다.
dashboard-email-unverified = 이메일 주소가 아직 확인되지 않았습니다. 메일로 보낸 링크를 여세요.

## Two-step sign-in
twofa-title = 2단계 로그인
twofa-lead = 2단계 로그인을 켜면 로그인할 때 비밀번호와 휴대폰 인증 앱의 코드가 모두 필요하므로, 비밀번호만 도난당해서는 계정이 열리지 않습니다.
twofa-qr-label = 인증 앱용 QR 코드
twofa-codes-title = 복구 코드
twofa-codes-text = 이 코드를 휴대폰과 떨어진 안전한 곳에 보관하세요. 인증 앱을 잃어버렸을 때 코드 하나로 한 번 로그인할 수 있습니다. 지금 한 번만 보여 드립니다.
twofa-codes-download = 텍스트 파일로 내려받기
twofa-codes-file-title = gatehouse 복구 코드: 각각 한 번만 쓸 수 있습니다.
twofa-status-title = 상태
twofa-on = 켜짐
twofa-off = 꺼짐
twofa-on-since = 켠 날짜:
twofa-codes-left = 남은 복구 코드: { $count }개
twofa-new-codes-title = 새 복구 코드
twofa-new-codes-hint = 코드 열 개를 새로 만듭니다. 이전 코드는 더 이상 쓸 수 없습니다.
twofa-new-codes-submit = 새 코드 만들기
twofa-disable-title = 2단계 로그인 끄기
twofa-disable-hint = 다시 비밀번호만으로 로그인하게 됩니다. 앱의 코드나 복구 코드를 입력하세요.
twofa-disable-submit = 끄기
twofa-code-or-recovery = 앱의 코드 또는 복구 코드
twofa-setup-title = 2단계 로그인 켜기
twofa-setup-scan = 인증 앱(예: Aegis, Google Authenticator, 1Password)으로 이 QR 코드를 스캔하세요.
twofa-setup-manual = 또는 앱에 이 키를 입력하세요:
twofa-setup-confirm = 앱에 표시된 여섯 자리 코드와 비밀번호를 입력하세요.
twofa-code = 여섯 자리 코드
twofa-setup-submit = 켜기
twofa-back = 계정으로 돌아가기
twofa-wrong-code = 코드가 맞지 않거나 이미 사용되었습니다. 지금 표시된 코드를 입력하세요.
twofa-setup-expired = 이 설정 페이지가 오래되었습니다. 아래의 새 코드를 스캔하고 다시 시도하세요.
twofa-already-on = 2단계 로그인이 이미 켜져 있습니다.
twofa-not-on = 2단계 로그인이 켜져 있지 않습니다.
twofa-turned-off = 2단계 로그인이 꺼졌습니다.
twofa-step-expired = 로그인 시간이 너무 오래 걸렸습니다. 다시 로그인하세요.
login-2fa-title = 코드 입력
login-2fa-hint = 인증 앱을 열고 gatehouse의 여섯 자리 코드를 입력하세요. 휴대폰을 잃어버렸다면 복구 코드 하나를 입력하세요.
login-2fa-submit = 로그인
login-2fa-start-again = 처음부터 다시
account-2fa-title = 2단계 로그인
account-2fa-on = 2단계 로그인이 켜져 있습니다.
account-2fa-off = 2단계 로그인이 꺼져 있습니다.
account-2fa-link = 2단계 로그인 관리
