"""The login page's words in Russian, Kazakh and English."""

from __future__ import annotations

LANGUAGES = (("ru", "Русский"), ("kk", "Қазақша"), ("en", "English"))

TEXT: dict[str, dict[str, str]] = {
    "ru": {
        "title": "Вход — ЕГСУ ТЭК",
        "heading": "Вход в ЕГСУ ТЭК",
        "subtitle": "Единая государственная система управления топливно-энергетическим комплексом",
        "username": "Имя пользователя",
        "password": "Пароль",
        "submit": "Войти",
        "language": "Язык",
        "bad_credentials": "Неверное имя пользователя или пароль.",
        "bad_request": "Неверный запрос на вход",
        "logged_out": "Вы вышли из системы.",
    },
    "kk": {
        "title": "Кіру — ОМБЖ ОЭК",
        "heading": "ОМБЖ ОЭК жүйесіне кіру",
        "subtitle": "Отын-энергетикалық кешенді басқарудың бірыңғай мемлекеттік жүйесі",
        "username": "Пайдаланушы аты",
        "password": "Құпиясөз",
        "submit": "Кіру",
        "language": "Тіл",
        "bad_credentials": "Пайдаланушы аты немесе құпиясөз қате.",
        "bad_request": "Кіру сұрауы қате",
        "logged_out": "Сіз жүйеден шықтыңыз.",
    },
    "en": {
        "title": "Sign in — EGSU TEK",
        "heading": "Sign in to EGSU TEK",
        "subtitle": "Unified state system for managing the fuel-and-energy complex",
        "username": "Username",
        "password": "Password",
        "submit": "Sign in",
        "language": "Language",
        "bad_credentials": "Invalid username or password.",
        "bad_request": "Invalid sign-in request",
        "logged_out": "You are signed out.",
    },
}


def pick_language(*candidates: str | None, accept_language: str | None = None) -> str:
    for c in candidates:
        if c:
            code = c.split()[0].split("-")[0].lower()
            if code in TEXT:
                return code
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().split("-")[0].lower()
        if code in TEXT:
            return code
    return "ru"
