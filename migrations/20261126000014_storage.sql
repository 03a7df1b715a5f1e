-- Storage metadata as Supabase Storage keeps it: `storage.buckets` and `storage.objects` (the bytes
-- live in the object store under the object's `version`), the path helpers policies are written
-- with (`storage.foldername`, `storage.filename`, `storage.extension`), and `storage.search`, the
-- one-level listing storage-js asks for. Row-level security is enabled with no policies, as in
-- Supabase: only service_role passes until the project writes its own.

create table storage.buckets (
    id text primary key check (
        length(id) between 1 and 100 and id !~ '/' and id = btrim(id)
    ),
    name text not null,
    owner uuid,
    owner_id text,
    public boolean not null default false,
    file_size_limit bigint check (file_size_limit is null or file_size_limit > 0),
    allowed_mime_types text[],
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create unique index buckets_name_key on storage.buckets (name);
create trigger buckets_updated_at before update on storage.buckets
    for each row execute function private.set_updated_at();

create table storage.objects (
    id uuid primary key default gen_random_uuid(),
    bucket_id text not null references storage.buckets (id),
    name text not null check (length(name) between 1 and 1024),
    owner uuid default auth.uid(),
    owner_id text default auth.uid()::text,
    metadata jsonb,
    user_metadata jsonb,
    version text,
    path_tokens text[] generated always as (string_to_array(name, '/')) stored,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    last_accessed_at timestamptz not null default now(),
    unique (bucket_id, name)
);
create index objects_bucket_prefix_idx on storage.objects (bucket_id, name text_pattern_ops);
create trigger objects_updated_at before update on storage.objects
    for each row execute function private.set_updated_at();

alter table storage.buckets enable row level security;
alter table storage.objects enable row level security;

-- Path helpers, with Supabase's semantics: `a/b/c.png` → {a,b}, `c.png`, `png`.
create or replace function storage.foldername(name text) returns text[]
language sql immutable
as $$
    select (string_to_array(name, '/'))[1:array_length(string_to_array(name, '/'), 1) - 1]
$$;

create or replace function storage.filename(name text) returns text
language sql immutable
as $$
    select (string_to_array(name, '/'))[array_length(string_to_array(name, '/'), 1)]
$$;

create or replace function storage.extension(name text) returns text
language sql immutable
as $$
    select reverse(split_part(reverse(storage.filename(name)), '.', 1))
$$;

-- The direct children of `prefix` (which ends with `/` or is empty) in `bucketname`: "folders"
-- (a row per distinct next path segment, every other column null) first, then files, paged
-- together. `search` is a case-insensitive prefix of the child's name. SECURITY INVOKER, so the
-- caller's SELECT policies on storage.objects decide what is listed.
create or replace function storage.search(
    prefix text,
    bucketname text,
    limits integer default 100,
    levels integer default 1,
    offsets integer default 0,
    search text default '',
    sortcolumn text default 'name',
    sortorder text default 'asc'
) returns table (
    name text,
    id uuid,
    updated_at timestamptz,
    created_at timestamptz,
    last_accessed_at timestamptz,
    metadata jsonb
)
language sql stable
as $$
    with children as (
        select o.path_tokens[levels] as child, array_length(o.path_tokens, 1) > levels as is_folder,
               o.id, o.updated_at, o.created_at, o.last_accessed_at, o.metadata
        from storage.objects o
        where o.bucket_id = bucketname
          and starts_with(o.name, prefix)
          and array_length(o.path_tokens, 1) >= levels
    ),
    matching as (
        select * from children
        where lower(child) like replace(replace(replace(lower(coalesce(search, '')), '\', '\\'), '%', '\%'), '_', '\_') || '%'
    ),
    rows as (
        select distinct on (child) child, true as is_folder, null::uuid as id,
               null::timestamptz as updated_at, null::timestamptz as created_at,
               null::timestamptz as last_accessed_at, null::jsonb as metadata
        from matching where is_folder
        union all
        select child, false, id, updated_at, created_at, last_accessed_at, metadata
        from matching where not is_folder
    )
    select child, id, updated_at, created_at, last_accessed_at, metadata
    from rows
    order by
        not is_folder,
        case when lower(sortorder) = 'desc' then null else
            case lower(sortcolumn)
                when 'updated_at' then to_char(updated_at at time zone 'UTC', 'YYYYMMDDHH24MISSUS')
                when 'created_at' then to_char(created_at at time zone 'UTC', 'YYYYMMDDHH24MISSUS')
                when 'last_accessed_at' then to_char(last_accessed_at at time zone 'UTC', 'YYYYMMDDHH24MISSUS')
                else child
            end
        end asc,
        case when lower(sortorder) = 'desc' then
            case lower(sortcolumn)
                when 'updated_at' then to_char(updated_at at time zone 'UTC', 'YYYYMMDDHH24MISSUS')
                when 'created_at' then to_char(created_at at time zone 'UTC', 'YYYYMMDDHH24MISSUS')
                when 'last_accessed_at' then to_char(last_accessed_at at time zone 'UTC', 'YYYYMMDDHH24MISSUS')
                else child
            end
        end desc,
        child collate "C"
    limit greatest(least(coalesce(limits, 100), 1500), 0)
    offset greatest(coalesce(offsets, 0), 0)
$$;

grant all on storage.buckets, storage.objects to anon, authenticated, service_role;
grant execute on function storage.foldername(text), storage.filename(text), storage.extension(text),
    storage.search(text, text, integer, integer, integer, text, text, text)
    to anon, authenticated, service_role;
