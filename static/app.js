// gatehouse: small enhancements. Every page works without this script.
(() => {
  'use strict';

  // A page restored from the back/forward cache may show a session that has since ended
  // (signed out in this tab): always ask the server again.
  window.addEventListener('pageshow', (event) => {
    if (event.persisted) window.location.reload();
  });

  // Show/hide password toggles.
  for (const input of document.querySelectorAll('input[type="password"][data-toggle-show]')) {
    const d = input.dataset;
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'button button-quiet password-toggle';
    button.setAttribute('aria-controls', input.id);
    const render = (shown) => {
      button.textContent = shown ? d.toggleHide : d.toggleShow;
      button.setAttribute('aria-label', shown ? d.toggleHideLabel : d.toggleShowLabel);
      button.setAttribute('aria-pressed', String(shown));
    };
    render(false);
    button.addEventListener('click', () => {
      const shown = input.type === 'password';
      input.type = shown ? 'text' : 'password';
      render(shown);
      input.focus();
    });
    const wrap = document.createElement('div');
    wrap.className = 'password-wrap';
    input.parentNode.insertBefore(wrap, input);
    wrap.append(input, button);
  }

  // Live strength meter: the server's own estimate, so the meter and the final check agree.
  for (const input of document.querySelectorAll('input[data-strength]')) {
    const box = document.getElementById(input.dataset.strength);
    const form = input.form;
    if (!box || !form) continue;
    const meter = box.querySelector('meter');
    const text = box.querySelector('.strength-text');
    let timer = 0;
    let latest = 0;
    const field = (name) => (form.elements[name] ? form.elements[name].value : '');
    const check = async () => {
      const mine = ++latest;
      if (!input.value) {
        box.hidden = true;
        return;
      }
      const body = new URLSearchParams({
        password: input.value,
        username: field('username') || form.dataset.strengthUsername || '',
        email: field('email') || form.dataset.strengthEmail || '',
        csrf_token: form.dataset.strengthCsrf || '',
      });
      try {
        const response = await fetch('/password/strength', {
          method: 'POST',
          body,
          credentials: 'same-origin',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        });
        if (!response.ok || mine !== latest) return;
        const result = await response.json();
        box.hidden = false;
        meter.value = result.score;
        text.textContent = `${result.label}. ${result.message}`;
        box.dataset.ok = String(result.ok);
      } catch (_) {
        // Offline or refused: the server still checks on submit.
      }
    };
    input.addEventListener('input', () => {
      window.clearTimeout(timer);
      timer = window.setTimeout(check, 250);
    });
  }

  // Move focus to the error summary after a failed submit (autofocus covers most browsers).
  const summary = document.getElementById('error-summary') || document.getElementById('login-error');
  if (summary && document.activeElement !== summary) summary.focus();
})();
