//! Image registries (`/repository_modelview/api`) and images (`/images_modelview/api`).

use std::sync::Arc;

use diesel::mysql::MysqlConnection;
use serde_json::{Map, Value, json};

use super::ids;
use super::properties::{CREATOR, MODIFIED};
use crate::auth::Ctx;
use crate::engine::sql::SqlFrag;
use crate::engine::view::{
    Access, AccessRules, DECLARED_PERMISSIONS, ModelView, Property, Row, ViewHooks, cols,
    creator_only,
};
use crate::error::ApiError;

/// Owners and admins edit; everyone else reads.
pub struct OwnedHooks {
    /// Restrict visibility to the creator (registries hold credentials).
    pub private: bool,
}

impl ViewHooks for OwnedHooks {
    fn base_filter(&self, ctx: &Ctx) -> Option<SqlFrag> {
        if self.private {
            creator_only(ctx)
        } else {
            None
        }
    }
    fn add_more_info(&self, ctx: &Ctx, info: &mut Map<String, Value>) {
        // per-user defaults of the forms, as the original's pre_add_web (its add and
        // edit forms share the declared fields)
        for form in ["add_columns", "edit_columns"] {
            let Some(Value::Array(fields)) = info.get_mut(form) else {
                continue;
            };
            for f in fields.iter_mut() {
                match f.get("name").and_then(Value::as_str) {
                    Some("hubsecret") if self.private => {
                        f["default"] = json!(format!("{}-hubsecret", ctx.username))
                    }
                    Some("name") if self.private => {
                        f["default"] = json!(format!("{}-", ctx.username))
                    }
                    _ => {}
                }
            }
        }
    }
}

fn hubsecret_url(_: &mut MysqlConnection, _: &Ctx, rows: &mut [Row]) -> Result<(), ApiError> {
    for r in rows.iter_mut() {
        let h = r
            .get("hubsecret")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let html = format!(
            "<a target=_blank href=\"/k8s/dashboard/cluster/#/secret/pipeline/{h}?namespace=pipeline\">{h}</a>"
        );
        r.insert("hubsecret_url".into(), json!(html));
    }
    Ok(())
}

fn images_url(_: &mut MysqlConnection, _: &Ctx, rows: &mut [Row]) -> Result<(), ApiError> {
    for r in rows.iter_mut() {
        let name = r
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let git = r
            .get("gitpath")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let html = if git.is_empty() {
            name
        } else {
            format!("<a href=\"{git}\">{name}</a>")
        };
        r.insert("images_url".into(), json!(html));
    }
    Ok(())
}

fn template_group_choice(_: &Ctx) -> SqlFrag {
    SqlFrag::new("t.`type` = 'job-template'", vec![])
}

/// The registry and image views.
pub fn views(config: &app_core::Config) -> Vec<ModelView> {
    let mut repo = ModelView::new(
        ids::REPOSITORY,
        "Repository_ModelView_Api",
        "repository",
        "仓库",
    );
    repo.base_order = Some(("id", "desc"));
    repo.order_columns = cols(&["id"]);
    repo.search_columns = cols(&["name", "server", "hubsecret", "user"]);
    repo.list_columns = cols(&["name", "server", "hubsecret_url", "creator", "modified"]);
    repo.show_exclude_columns = vec!["password"];
    repo.add_columns = cols(&["name", "server", "user", "password", "hubsecret"]);
    repo.edit_columns = repo.add_columns.clone();
    repo.labels = vec![
        ("server", "仓库"),
        ("user", "用户名"),
        ("hubsecret", "k8s hubsecret"),
        ("hubsecret_url", "k8s hubsecret"),
    ];
    repo.cols_width = json!({"name": {"type": "ellip2", "width": 150}, "hubsecret": {"type": "ellip2", "width": 350}, "hubsecret_url": {"type": "ellip2", "width": 150}});
    repo.base_permissions = DECLARED_PERMISSIONS.to_vec();
    let org = &config.repository_org;
    // the registries offered are fixed in the original; only the description names ours
    let registries = [
        "harbor.oa.com/cube-studio/",
        "ccr.ccs.tencentyun.com/cube-studio/",
        "registry.docker-cn.com",
    ];
    repo.fields.insert(
        "server",
        json!({"type": "Select", "default": registries[0], "description": format!("镜像仓库地址，示例：{org}"),
               "choices": registries.iter().map(|r| [r, r]).collect::<Vec<_>>(), "widget": "Select2", "ui-type": "input-select",
               "validators": [{"type": "DataRequired"}, {"type": "Regexp", "regex": "^[a-zA-Z0-9\\-._:@\\/]*$"}]}),
    );
    repo.fields.insert("name", json!({"type": "String", "description": "仓库名称", "widget": "BS3Text", "validators": [{"type": "DataRequired"}]}));
    repo.fields.insert("user", json!({"type": "String", "description": "镜像仓库的用户名", "widget": "BS3Text", "validators": [{"type": "DataRequired"}]}));
    repo.fields.insert("password", json!({"type": "String", "description": "镜像仓库的链接密码", "widget": "BS3Text", "validators": [{"type": "DataRequired"}]}));
    repo.fields.insert(
        "hubsecret",
        json!({"type": "String", "description": "在k8s中创建的hub secret，英文名(小写字母、数字、-组成)，最长50个字符", "widget": "BS3Text",
               "validators": [{"type": "Regexp", "regex": "^[a-z][a-z0-9\\-]*[a-z0-9]$"}, {"type": "DataRequired"}, {"type": "Length", "min": 1, "max": 54}]}),
    );
    repo.properties = vec![
        Property {
            name: "hubsecret_url",
            compute: hubsecret_url,
        },
        CREATOR,
        MODIFIED,
    ];
    repo.hooks = Arc::new(RepoHooks);
    repo.access = AccessRules::rows(Access::Owner);

    let mut images = ModelView::new(ids::IMAGES, "Images_ModelView_Api", "images", "镜像");
    images.list_columns = cols(&["project", "images_url", "creator", "modified"]);
    images.cols_width = json!({"images_url": {"type": "ellip2", "width": 500}});
    images.search_columns = cols(&["created_by", "project", "repository", "name", "describe"]);
    images.base_order = Some(("id", "desc"));
    images.order_columns = cols(&["id"]);
    images.add_columns = cols(&[
        "project",
        "repository",
        "name",
        "describe",
        "dockerfile",
        "gitpath",
    ]);
    images.edit_columns = images.add_columns.clone();
    images.show_columns = cols(&[
        "project",
        "repository",
        "created_by",
        "changed_by",
        "created_on",
        "changed_on",
        "name",
        "describe",
        "entrypoint",
        "dockerfile",
        "gitpath",
    ]);
    images.labels = vec![("project", "功能分类")];
    images.descriptions = vec![(
        "entrypoint",
        "镜像的入口命令，直接写成单行字符串，例如python xx.py，无需添加[]",
    )];
    images.rel_choices.insert("project", template_group_choice);
    images.fields.insert(
        "dockerfile",
        json!({"type": "String", "default": "", "description": "镜像的构建Dockerfile全部内容，/mnt/$username/是个人存储目录，可以从此目录下复制文件到镜像中",
               "widget": "BS3TextArea", "validators": [], "style": {"rows": 10}}),
    );
    images.fields.insert(
        "name",
        json!({"type": "String", "description": "镜像名称全称，例如ubuntu:20.04", "widget": "BS3Text",
               "validators": [{"type": "DataRequired"}, {"type": "Regexp", "regex": "^[a-zA-Z0-9\\-._:@\\/]*$"}]}),
    );
    images.properties = vec![
        Property {
            name: "images_url",
            compute: images_url,
        },
        CREATOR,
        MODIFIED,
    ];
    images.hooks = Arc::new(ImageHooks);
    images.access = AccessRules::rows(Access::Owner);
    vec![repo, images]
}

/// Registries: creator-only, names and secrets validated.
pub struct RepoHooks;

fn check_secret_name(values: &Row) -> Result<(), ApiError> {
    if let Some(h) = values.get("hubsecret").and_then(Value::as_str)
        && !h.is_empty()
        && !is_k8s_name(h)
    {
        return Err(ApiError::unprocessable(
            "hubsecret must be lower-case letters, digits and -, starting with a letter, at most 54 characters",
        ));
    }
    Ok(())
}

/// A DNS-1123 label of at most 54 characters (the original's name rule).
pub fn is_k8s_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 54
        && b[0].is_ascii_lowercase()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

impl ViewHooks for RepoHooks {
    fn base_filter(&self, ctx: &Ctx) -> Option<SqlFrag> {
        OwnedHooks { private: true }.base_filter(ctx)
    }
    fn pre_add(&self, _: &mut MysqlConnection, _: &Ctx, values: &mut Row) -> Result<(), ApiError> {
        check_secret_name(values)
    }
    fn pre_update(
        &self,
        _: &mut MysqlConnection,
        _: &Ctx,
        values: &mut Row,
        _: &Row,
    ) -> Result<(), ApiError> {
        check_secret_name(values)
    }
    fn add_more_info(&self, ctx: &Ctx, info: &mut Map<String, Value>) {
        OwnedHooks { private: true }.add_more_info(ctx, info)
    }
}

/// Images: names validated; owners and admins edit.
pub struct ImageHooks;

fn check_image_name(values: &Row) -> Result<(), ApiError> {
    if let Some(n) = values.get("name").and_then(Value::as_str)
        && (n.is_empty()
            || !n
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._:@/".contains(c)))
    {
        return Err(ApiError::unprocessable(format!(
            "invalid image name {n:?}: use letters, digits and -._:@/"
        )));
    }
    Ok(())
}

impl ViewHooks for ImageHooks {
    fn pre_add(&self, _: &mut MysqlConnection, _: &Ctx, values: &mut Row) -> Result<(), ApiError> {
        check_image_name(values)
    }
    fn pre_update(
        &self,
        _: &mut MysqlConnection,
        _: &Ctx,
        values: &mut Row,
        _: &Row,
    ) -> Result<(), ApiError> {
        check_image_name(values)
    }
}
