//! The indicator use cases: definitions (list, get, create, update,
//! delete, one transaction each), queries and explanations over the
//! in-memory cube, and subscriptions to published changes.

use std::sync::{Arc, RwLock};

use jilin_domain::Period;
use jilin_runtime::Clock;
use jilin_store::StoreError;
use tokio::sync::broadcast;

use crate::domain::builtins::builtins;
use crate::domain::definition::{self, Concept, Definition, Draft, IndicatorField, IndicatorSet};
use crate::domain::eval::{Evaluator, Scope, Term};
use crate::domain::labels::Matcher;
use crate::domain::query::{self, Bucket, PointValue, QuerySpec, SeriesValues};
use crate::error::IndicatorError;
use crate::ingest::SharedCube;
use crate::publisher::ValueChange;
use crate::store::Tables;
use jilin_runtime::ApiError;

/// One value with everything that went into it.
#[derive(Clone, Debug)]
pub struct Explained {
    pub definition: Definition,
    pub parsed_expression: String,
    pub point: PointValue,
    pub terms: Vec<Term>,
}

/// The use cases, over the tables and the shared cube.
#[derive(Clone)]
pub struct Indicators {
    tables: Tables,
    cube: SharedCube,
    watchers: broadcast::Sender<Arc<ValueChange>>,
    /// The definitions, compiled once per change rather than per query.
    compiled: Arc<RwLock<Arc<IndicatorSet>>>,
    clock: Clock,
}

impl Indicators {
    pub fn new(
        tables: Tables,
        cube: SharedCube,
        watchers: broadcast::Sender<Arc<ValueChange>>,
        clock: Clock,
    ) -> Self {
        Self {
            tables,
            cube,
            watchers,
            compiled: Arc::default(),
            clock,
        }
    }

    /// Stores the built-ins that are not stored yet (all of them at first
    /// start); edited ones are left as they are.
    pub async fn seed_builtins(&self) -> Result<usize, StoreError> {
        let tables = &self.tables;
        let all = builtins(self.clock.now());
        let seeded = tables
            .store
            .write(|tx| {
                let mut seeded = 0;
                for definition in &all {
                    if tx.get(&tables.definitions, &definition.id)?.is_none() {
                        tx.insert(&tables.definitions, &definition.id, definition)?;
                        seeded += 1;
                    }
                }
                Ok::<_, StoreError>(seeded)
            })
            .await?;
        self.recompile()?;
        Ok(seeded)
    }

    /// The compiled definitions queries evaluate.
    fn compiled(&self) -> Arc<IndicatorSet> {
        self.compiled
            .read()
            .expect("no panic while holding the definitions")
            .clone()
    }

    /// Compiles the stored definitions again, after a change. The last
    /// call reads the table after every committed change, so concurrent
    /// changes end with every one of them compiled.
    fn recompile(&self) -> Result<(), StoreError> {
        let set = Arc::new(self.indicator_set()?);
        *self
            .compiled
            .write()
            .expect("no panic while holding the definitions") = set;
        Ok(())
    }

    /// Every stored definition, compiled now.
    pub fn indicator_set(&self) -> Result<IndicatorSet, StoreError> {
        let (set, broken) = IndicatorSet::compile(self.all()?);
        for problem in broken {
            tracing::error!(%problem, "stored indicator does not parse; skipped");
        }
        Ok(set)
    }

    fn all(&self) -> Result<Vec<Definition>, StoreError> {
        Ok(self
            .tables
            .definitions
            .scan_prefix("")?
            .into_iter()
            .map(|(_, definition)| definition)
            .collect())
    }

    pub fn list(&self, concept: Option<Concept>) -> Result<Vec<Definition>, IndicatorError> {
        Ok(self
            .all()?
            .into_iter()
            .filter(|d| concept.is_none_or(|c| d.concept == c))
            .collect())
    }

    pub fn get(&self, id: &str) -> Result<Definition, IndicatorError> {
        self.tables
            .definitions
            .get(id)?
            .ok_or_else(|| IndicatorError::Api(ApiError::NotFound(format!("indicators/{id}"))))
    }

    pub async fn create(&self, id: &str, draft: &Draft) -> Result<Definition, IndicatorError> {
        let set = self.indicator_set()?;
        definition::validate(id, draft, &set, "indicator.").map_err(IndicatorError::from)?;
        let definition = Definition::new(id, draft, self.clock.now());
        let months = self.months_with_data();
        let tables = &self.tables;
        let created = tables
            .store
            .write(|tx| -> Result<_, IndicatorError> {
                if tx.get(&tables.definitions, id)?.is_some() {
                    return Err(IndicatorError::Api(ApiError::AlreadyExists(
                        definition.name(),
                    )));
                }
                tx.insert(&tables.definitions, id, &definition)?;
                mark_dirty(tables, tx, &months)?;
                Ok(definition.clone())
            })
            .await?;
        self.recompile()?;
        Ok(created)
    }

    /// Applies the `mask` fields of `patch` to indicator `id`.
    pub async fn update(
        &self,
        id: &str,
        patch: &Draft,
        mask: &[IndicatorField],
        etag: Option<&str>,
    ) -> Result<Definition, IndicatorError> {
        let current = self.get(id)?;
        if current.built_in && mask.iter().any(|field| !field.changes_built_in()) {
            return Err(IndicatorError::BuiltIn {
                name: current.name(),
                what: "only display_name, display_name_zh, description and targets can change",
            });
        }
        let mut draft = current.draft();
        for field in mask {
            field.copy(patch, &mut draft);
        }
        let set = self.indicator_set()?;
        definition::validate(id, &draft, &set, "indicator.").map_err(IndicatorError::from)?;
        let recompute = draft.expression != current.expression;
        let months = if recompute {
            self.months_with_data()
        } else {
            Vec::new()
        };
        let tables = &self.tables;
        let updated = tables
            .store
            .write(|tx| -> Result<_, IndicatorError> {
                let mut updated = current_in(tables, tx, id, etag)?;
                updated.set_fields(&draft);
                updated.revision += 1;
                updated.update_time = self.clock.now();
                tx.insert(&tables.definitions, id, &updated)?;
                mark_dirty(tables, tx, &months)?;
                Ok(updated)
            })
            .await?;
        self.recompile()?;
        Ok(updated)
    }

    pub async fn delete(&self, id: &str, etag: Option<&str>) -> Result<(), IndicatorError> {
        let current = self.get(id)?;
        if current.built_in {
            return Err(IndicatorError::BuiltIn {
                name: current.name(),
                what: "built-in indicators cannot be deleted",
            });
        }
        let referrers = self.indicator_set()?.referrers(id);
        if !referrers.is_empty() {
            return Err(IndicatorError::Referenced {
                name: current.name(),
                referrers,
            });
        }
        let tables = &self.tables;
        tables
            .store
            .write(|tx| -> Result<_, IndicatorError> {
                current_in(tables, tx, id, etag)?;
                tx.remove(&tables.definitions, id)?;
                Ok(())
            })
            .await?;
        self.recompile()?;
        Ok(())
    }

    /// The series of a query.
    pub fn query(
        &self,
        id: &str,
        spec: &QuerySpec,
    ) -> Result<(Definition, Vec<SeriesValues>), IndicatorError> {
        let set = self.compiled();
        let indicator = set
            .get(id)
            .ok_or_else(|| IndicatorError::Api(ApiError::NotFound(format!("indicators/{id}"))))?;
        let cube = self.cube.read().expect("no panic while holding the cube");
        let series = query::run(&*cube, &set, indicator, spec);
        Ok((indicator.definition.clone(), series))
    }

    /// One value and the aggregates behind it.
    pub fn explain(
        &self,
        id: &str,
        bucket: &Bucket,
        filter: Vec<Matcher>,
    ) -> Result<Explained, IndicatorError> {
        let set = self.compiled();
        let indicator = set
            .get(id)
            .ok_or_else(|| IndicatorError::Api(ApiError::NotFound(format!("indicators/{id}"))))?;
        let cube = self.cube.read().expect("no panic while holding the cube");
        let evaluator = Evaluator {
            cells: &*cube,
            indicators: &set,
        };
        let scope = Scope {
            first: bucket.first,
            last: bucket.last,
            matchers: filter.clone(),
        };
        let (_, terms) = evaluator.explain(&indicator.expr, &scope);
        let point = query::point(&*cube, &set, indicator, bucket, filter);
        Ok(Explained {
            definition: indicator.definition.clone(),
            parsed_expression: indicator.expr.to_string(),
            point,
            terms,
        })
    }

    /// Published value changes from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<ValueChange>> {
        self.watchers.subscribe()
    }

    fn months_with_data(&self) -> Vec<Period> {
        let cube = self.cube.read().expect("no panic while holding the cube");
        let Some((mut month, last)) = cube.span() else {
            return Vec::new();
        };
        let mut months = Vec::new();
        while month <= last {
            months.push(month);
            match month.next() {
                Some(next) => month = next,
                None => break,
            }
        }
        months
    }
}

/// The stored definition inside a transaction, if `etag` (when given)
/// is still current.
fn current_in(
    tables: &Tables,
    tx: &jilin_store::Tx<'_>,
    id: &str,
    etag: Option<&str>,
) -> Result<Definition, IndicatorError> {
    let stored = tx
        .get(&tables.definitions, id)?
        .ok_or_else(|| IndicatorError::Api(ApiError::NotFound(format!("indicators/{id}"))))?;
    match etag {
        Some(given) if given != stored.etag() => Err(IndicatorError::Api(ApiError::StaleEtag {
            name: stored.name(),
            given: given.to_owned(),
            current: stored.etag(),
        })),
        _ => Ok(stored),
    }
}

/// Marks months for the publisher to recompute.
fn mark_dirty(
    tables: &Tables,
    tx: &jilin_store::Tx<'_>,
    months: &[Period],
) -> Result<(), StoreError> {
    let nonce = crate::store::dirty_mark(&jilin_runtime::trace::current_traceparent(""));
    for month in months {
        tx.insert(&tables.dirty, &month.to_string(), &nonce)?;
    }
    Ok(())
}
