-- Tables the recommendation API reads: article, model, recommendation.
-- Column names and types are the API's; run_id and metrics are ours.

CREATE TABLE article (
    id             serial PRIMARY KEY,
    site           text NOT NULL,
    external_id    text NOT NULL,
    title          text,
    path           text,
    published_at   timestamptz,
    exclude_reason text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (site, external_id)
);

CREATE TABLE model (
    id         serial PRIMARY KEY,
    site       text NOT NULL,
    type       text NOT NULL CHECK (type IN ('article', 'popularity')),
    status     text NOT NULL CHECK (status IN ('pending', 'current', 'stale', 'failed')),
    run_id     text NOT NULL,
    metrics    jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (site, type, run_id)
);

-- At most one current model per site and type: the swap can never leave two.
CREATE UNIQUE INDEX model_one_current ON model (site, type) WHERE status = 'current';

CREATE TABLE recommendation (
    id                     bigserial PRIMARY KEY,
    model_id               integer NOT NULL REFERENCES model (id) ON DELETE CASCADE,
    source_entity_id       text NOT NULL,
    recommended_article_id integer NOT NULL REFERENCES article (id),
    score                  numeric(7, 6) NOT NULL,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    UNIQUE (model_id, source_entity_id, recommended_article_id)
);

CREATE INDEX recommendation_source_model ON recommendation (source_entity_id, model_id);
