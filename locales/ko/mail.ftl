## 메일. 일반 텍스트입니다. { $site }는 서비스 이름, { $name }은 사용자 이름입니다.

mail-greeting = { $name }님, 안녕하세요.
mail-signature = — { $site }
mail-not-you = 본인이 아니라면 링크를 열지 마세요. 계정은 그대로 유지됩니다.

mail-verify-subject = { $site } 이메일 주소를 확인해 주세요
mail-verify-body =
    이 주소가 본인의 것인지 확인하려면 다음 링크를 여세요.

    { $link }

    링크는 { $hours }시간 동안 유효합니다.

mail-new-address-subject = { $site } 새 이메일 주소를 확인해 주세요
mail-new-address-body =
    { $site } 계정의 이메일 주소를 { $address }(으)로 바꾸려는 요청이 있었습니다.
    확인하려면 다음 링크를 여세요.

    { $link }

    링크는 { $hours }시간 동안 유효합니다. 링크를 열기 전까지는 이전 주소가 그대로 쓰입니다.

mail-address-change-subject = { $site } 이메일 주소 변경이 요청되었습니다
mail-address-change-body =
    { $when }에 계정에 로그인한 누군가가 이메일 주소를 { $address }(으)로 바꾸려고
    요청했습니다. 기기: { $device }, 주소: { $ip }. 새 주소로 보낸 링크를 열어야만 바뀝니다.

    본인이 아니라면 로그인해서 비밀번호를 바꾸고, 계정 페이지에서 다른 기기를 로그아웃하세요.
    링크를 열기 전까지 주소는 바뀌지 않습니다.

mail-reset-subject = { $site } 비밀번호 재설정
mail-reset-body =
    { $when }에 { $site } 계정의 비밀번호 재설정이 요청되었습니다. 기기: { $device },
    주소: { $ip }. 새 비밀번호를 정하려면 다음 링크를 여세요.

    { $link }

    링크는 { $minutes }분 동안 한 번만 쓸 수 있습니다. 요청하지 않았다면 이 메일을 무시하세요.
    비밀번호는 그대로 유지됩니다.

mail-password-changed-subject = { $site } 비밀번호가 변경되었습니다
mail-password-changed-body =
    { $when }에 { $site } 계정의 비밀번호가 변경되었습니다. 기기: { $device }, 주소: { $ip }.
    로그인되어 있던 다른 모든 기기는 로그아웃되었습니다.

    본인이 아니라면 로그인 페이지의 "비밀번호를 잊으셨나요?"로 지금 비밀번호를 재설정하고
    관리자에게 알리세요.

mail-2fa-enabled-subject = { $site } 계정에 2단계 로그인이 켜졌습니다
mail-2fa-enabled-body =
    { $when }에 { $site } 계정에 2단계 로그인이 켜졌습니다. 기기: { $device }, 주소: { $ip }.
    이제 로그인하려면 비밀번호와 인증 앱의 코드(또는 복구 코드)가 필요합니다.

    본인이 아니라면 누군가 비밀번호를 알고 있습니다. 로그인해서 끄고, 비밀번호를 바꾸고,
    관리자에게 알리세요.

mail-2fa-disabled-subject = { $site } 계정의 2단계 로그인이 꺼졌습니다
mail-2fa-disabled-body =
    { $when }에 { $site } 계정의 2단계 로그인이 꺼졌습니다. 기기: { $device }, 주소: { $ip }.
    이제 비밀번호만으로 로그인됩니다.

    본인이 아니라면 지금 비밀번호를 바꾸고, 2단계 로그인을 다시 켜고, 관리자에게 알리세요.

mail-recovery-codes-subject = { $site } 계정의 새 복구 코드
mail-recovery-codes-body =
    { $when }에 { $site } 계정의 새 복구 코드가 만들어졌습니다. 기기: { $device }, 주소: { $ip }.
    이전 코드는 더 이상 쓸 수 없습니다.

    본인이 아니라면 지금 비밀번호를 바꾸고 관리자에게 알리세요.

mail-test-subject = { $site }의 테스트 메일
mail-test-body =
    `gatehouse mail test`로 보낸 테스트 메일입니다. 이 메일을 읽고 있다면 { $site }는
    메일을 보낼 수 있습니다.
