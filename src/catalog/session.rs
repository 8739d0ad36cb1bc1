//! Opening a session on both databases: connection pools, catalogs, and the checks that the pair is
//! one this tool migrates (two different databases, Odoo 16 as source, Odoo 19 as target).

use anyhow::Result;
use deadpool_postgres::Pool;

use crate::catalog::{self, Catalog};
use crate::io::connect::{Endpoint, Side};
use crate::io::exit::{Status, refuse};
use crate::side_schema;

pub const SOURCE_MAJOR: u32 = 16;
pub const TARGET_MAJOR: u32 = 19;

/// Both databases, connected and introspected.
pub struct Session {
    pub target_endpoint: Endpoint,
    pub source: Pool,
    pub target: Pool,
    pub source_catalog: Catalog,
    pub target_catalog: Catalog,
    pub source_uuid: String,
}

impl Session {
    /// Connects to both sides with pools of `pool_size` and loads both catalogs.
    pub async fn open(
        source_endpoint: Endpoint,
        target_endpoint: Endpoint,
        pool_size: usize,
    ) -> Result<Session> {
        if source_endpoint.identity() == target_endpoint.identity() {
            return Err(refuse(
                Status::WrongDatabase,
                format!(
                    "source and target are the same database ({}); give the Odoo 16 database as --source and a fresh Odoo 19 database as --target",
                    source_endpoint.identity()
                ),
            ));
        }
        let (source, target) = tokio::try_join!(
            source_endpoint.pool(pool_size),
            target_endpoint.pool(pool_size)
        )?;
        let (source_catalog, target_catalog) = tokio::try_join!(
            catalog::load(&source, Side::Source, source_endpoint.database()),
            catalog::load(&target, Side::Target, target_endpoint.database())
        )?;
        check_versions(&source_catalog, &target_catalog)?;
        let (source_uuid, target_uuid) = {
            let source_client = source.get().await?;
            let target_client = target.get().await?;
            tokio::try_join!(
                side_schema::database_uuid(&**source_client),
                side_schema::database_uuid(&**target_client)
            )?
        };
        if !source_uuid.is_empty() && source_uuid == target_uuid {
            return Err(refuse(
                Status::WrongDatabase,
                format!(
                    "source and target are copies of the same Odoo database (database.uuid {source_uuid}); the target must be a freshly created Odoo 19 database"
                ),
            ));
        }
        Ok(Session {
            target_endpoint,
            source,
            target,
            source_catalog,
            target_catalog,
            source_uuid,
        })
    }
}

fn check_versions(source: &Catalog, target: &Catalog) -> Result<()> {
    if source.major == TARGET_MAJOR && target.major == SOURCE_MAJOR {
        return Err(refuse(
            Status::WrongDatabase,
            format!(
                "source and target look swapped: the source {} is Odoo {} and the target {} is Odoo {}; give the Odoo 16 database as --source",
                source.database, source.base_version, target.database, target.base_version
            ),
        ));
    }
    if source.major != SOURCE_MAJOR {
        return Err(refuse(
            Status::WrongDatabase,
            format!(
                "the source {} is Odoo {} but this tool migrates from Odoo {SOURCE_MAJOR}; migrate it to {SOURCE_MAJOR} first or use a tool for that version",
                source.database, source.base_version
            ),
        ));
    }
    if target.major != TARGET_MAJOR {
        return Err(refuse(
            Status::WrongDatabase,
            format!(
                "the target {} is Odoo {} but this tool migrates into Odoo {TARGET_MAJOR}; create the target with Odoo {TARGET_MAJOR}",
                target.database, target.base_version
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::exit::status_of;

    fn catalog(database: &str, major: u32) -> Catalog {
        Catalog {
            side: "source",
            database: database.to_string(),
            base_version: format!("{major}.0.1.3"),
            major,
            modules: Default::default(),
            models: Default::default(),
            tables: Default::default(),
            loose_sequences: Vec::new(),
            xmlids_per_module: Default::default(),
        }
    }

    #[test]
    fn only_odoo_16_into_odoo_19_is_accepted() {
        assert!(check_versions(&catalog("old", 16), &catalog("new", 19)).is_ok());
        let refused = |source: u32, target: u32, says: &str| {
            let error =
                check_versions(&catalog("old", source), &catalog("new", target)).unwrap_err();
            assert_eq!(status_of(&error), Status::WrongDatabase, "{error}");
            assert!(
                error.to_string().contains(says),
                "{source}→{target}: {error}"
            );
        };
        refused(19, 16, "look swapped: the source old is Odoo 19.0.1.3");
        refused(17, 19, "the source old is Odoo 17.0.1.3");
        refused(16, 18, "the target new is Odoo 18.0.1.3");
        refused(16, 16, "the target new is Odoo 16.0.1.3");
    }
}
