-- Languages (issue 22, item 1): the language the person chose in Settings.
-- NULL: never chosen; pages follow the browser's Accept-Language, else
-- English. The set of languages is the one internal/i18n has catalogues for.
ALTER TABLE users ADD COLUMN locale text
    CHECK (locale IN ('en', 'fr', 'es', 'pt', 'ar'));
