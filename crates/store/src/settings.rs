//! Named settings the server keeps for itself, such as the admin password's argon2 hash:
//! one text value per name. Not for secrets in the clear (seal those first).

use crate::Store;
use crate::error::Result;
use crate::types::now_millis;

impl Store {
    /// The value stored under `name`, if any.
    pub async fn get_setting(&self, name: &str) -> Result<Option<String>> {
        let row: Option<(String,)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT value FROM settings WHERE name = $1"
        )
        .bind(name)
        .fetch_optional(pool)
        .await)?;
        Ok(row.map(|(value,)| value))
    }

    /// Creates or replaces the value under `name`.
    pub async fn put_setting(&self, name: &str, value: &str) -> Result<()> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO settings (name, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"
        )
        .bind(name)
        .bind(value)
        .bind(now_millis())
        .execute(pool)
        .await
        .map(drop))?;
        Ok(())
    }

    /// Stores `value` under `name` only if nothing is stored there yet, atomically (two
    /// instances starting at once cannot both win). Returns whether it was stored.
    pub async fn insert_setting(&self, name: &str, value: &str) -> Result<bool> {
        let done = on_pool!(self, pool => sqlx::query(
            "INSERT INTO settings (name, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING"
        )
        .bind(name)
        .bind(value)
        .bind(now_millis())
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(done > 0)
    }

    /// Removes the value under `name`. Returns whether there was one.
    pub async fn delete_setting(&self, name: &str) -> Result<bool> {
        let done = on_pool!(self, pool => sqlx::query("DELETE FROM settings WHERE name = $1")
            .bind(name)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done > 0)
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use crate::Store;

    #[tokio::test]
    async fn settings_round_trip_and_insert_only_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_default(dir.path()).await.unwrap();
        store.migrate().await.unwrap();
        assert_eq!(store.get_setting("a").await.unwrap(), None);
        assert!(store.insert_setting("a", "1").await.unwrap());
        assert!(!store.insert_setting("a", "2").await.unwrap());
        assert_eq!(store.get_setting("a").await.unwrap().as_deref(), Some("1"));
        store.put_setting("a", "3").await.unwrap();
        assert_eq!(store.get_setting("a").await.unwrap().as_deref(), Some("3"));
        assert!(store.delete_setting("a").await.unwrap());
        assert!(!store.delete_setting("a").await.unwrap());
        assert_eq!(store.get_setting("a").await.unwrap(), None);
    }
}
