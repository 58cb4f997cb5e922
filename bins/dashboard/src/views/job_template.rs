//! Job templates (`/job_template_modelview/api`): admins edit; others see `Release`.

use std::sync::Arc;

use diesel::mysql::MysqlConnection;
use serde_json::{Map, Value, json};

use super::ids;
use super::properties::{CREATOR, MODIFIED};
use crate::auth::Ctx;
use crate::engine::resolve::Resolved;
use crate::engine::sql::SqlFrag;
use crate::engine::view::{
    Access, AccessRules, ActionDef, DECLARED_PERMISSIONS, ModelView, Row, ViewHooks, cols,
};
use crate::error::ApiError;

/// Only admins write templates; everyone else sees released ones.
pub struct JobTemplateHooks {
    /// The original's `GIT_URL`: the base of relative `help_url`s.
    pub git_url: String,
}

/// A template's `expand` as its list rows show it (the original's `pre_list_res`): the
/// `help_url` made absolute with `GIT_URL` when it is not an http URL, written back as
/// Python's `json.dumps` writes it. A row without `expand` (the fab list does not select
/// it) gets one holding `GIT_URL`, as in the original.
fn list_expand(git_url: &str, row: &mut Row) {
    let mut expand =
        app_core::json_text::object_or_empty(row.get("expand").and_then(Value::as_str));
    let help = expand
        .get("help_url")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if !help.contains("http") {
        expand.insert(
            "help_url".into(),
            json!(format!("{}{help}", git_url.trim_matches('/'))),
        );
        row.insert(
            "expand".into(),
            json!(app_core::json_text::python_dumps(&Value::Object(expand))),
        );
    }
}

fn normalise(values: &mut Row) -> Result<(), ApiError> {
    if let Some(Value::String(a)) = values.get("args") {
        let v = app_core::template_args::validate_job_args(a)
            .map_err(|e| ApiError::unprocessable(format!("args: {e}")))?;
        values.insert("args".into(), json!(app_core::json_text::pretty4(&v)));
    }
    if let Some(Value::String(e)) = values.get("expand") {
        let v = app_core::template_args::parse_json_object(e, "expand")
            .map_err(|e| ApiError::unprocessable(e.to_string()))?;
        values.insert(
            "expand".into(),
            json!(app_core::json_text::pretty4(&Value::Object(v))),
        );
    }
    if let Some(Value::String(env)) = values.get("env") {
        let lines: Vec<String> = env
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect();
        if let Some(bad) = lines.iter().find(|l| !l.contains('=')) {
            return Err(ApiError::unprocessable(format!(
                "env line {bad:?} must be KEY=VALUE"
            )));
        }
        values.insert("env".into(), json!(lines.join("\n")));
    }
    if let Some(Value::String(vm)) = values.get("volume_mount")
        && !vm.trim().is_empty()
    {
        app_core::k8s::volumes::parse_volume_mounts(vm)
            .map_err(|e| ApiError::unprocessable(format!("volume_mount: {e}")))?;
    }
    if let Some(Value::String(name)) = values.get("name") {
        let n = name.trim().replace('_', "-");
        if n.is_empty() || n.chars().count() > 100 {
            return Err(ApiError::unprocessable(
                "name must have 1 to 100 characters",
            ));
        }
        values.insert("name".into(), json!(n));
    }
    Ok(())
}

impl ViewHooks for JobTemplateHooks {
    fn post_list(&self, rows: &mut [Row]) {
        for r in rows {
            list_expand(&self.git_url, r);
        }
    }
    fn base_filter(&self, ctx: &Ctx) -> Option<SqlFrag> {
        (!ctx.is_admin).then(|| SqlFrag::new("t.`version` = 'Release'", vec![]))
    }
    fn pre_add(&self, _: &mut MysqlConnection, _: &Ctx, values: &mut Row) -> Result<(), ApiError> {
        values.entry("demo").or_insert(json!("{}"));
        normalise(values)
    }
    fn pre_update(
        &self,
        _: &mut MysqlConnection,
        _: &Ctx,
        values: &mut Row,
        _: &Row,
    ) -> Result<(), ApiError> {
        normalise(values)
    }
    fn pre_delete(&self, conn: &mut MysqlConnection, _: &Ctx, item: &Row) -> Result<(), ApiError> {
        let id = item.get("id").and_then(Value::as_i64).unwrap_or(0);
        let n = app_models::dashboard::tasks_using_template(conn, id)?;
        if n > 0 {
            return Err(ApiError::unprocessable(format!(
                "{n} tasks still use this template; change them first"
            )));
        }
        Ok(())
    }
    fn add_more_info(&self, ctx: &Ctx, info: &mut Map<String, Value>) {
        let perms: Vec<&str> = if ctx.is_admin {
            vec!["can_add", "can_edit", "can_delete", "can_list", "can_show"]
        } else {
            vec!["can_list", "can_show"]
        };
        info.insert("permissions".into(), json!(perms));
    }
}

fn copy_template(
    conn: &mut MysqlConnection,
    ctx: &Ctx,
    _: &Resolved<'_>,
    rows: &[Row],
) -> Result<String, ApiError> {
    if !ctx.is_admin {
        return Err(ApiError::forbidden("only admins can copy job templates"));
    }
    for r in rows {
        let id = r.get("id").and_then(Value::as_i64).unwrap_or(0);
        let suffix = &uuid::Uuid::new_v4().simple().to_string()[..4];
        if let Ok(id) = i32::try_from(id) {
            app_models::dashboard::copy_job_template(conn, id, suffix, ctx.user_id)?;
        }
    }
    Ok("success".into())
}

/// The help shown next to a template's `args` (the original's text, comments included).
const ARGS_TIPS: &str = r#"<pre><code>{
    "group1":{               # 参数分组，仅做web显示使用
       "--attr1":{           # 参数名
        "type":"str",         # str,text,json,int,float,bool,list
        "item_type": "str",   # 在type为text，item_type可为python，java，json，sql
        "label":"参数1",      # 中文名
        "require":1,         # 是否必须
        "choice":[],         # 设定输入的可选值，可选值
        "range":"",          # int和float型时设置最小最大值,"min,max"
        "default":"",        # 默认值
        "placeholder":"",    # 输入提示内容
        "describe":"这里是这个参数的描述和备注",
        "editable":1        # 是否可修改
      },
      "--attr2":{
       ...
      }
    },
    "group2":{
    }
}</code></pre>"#;

fn field(description: &str, extra: Value) -> Value {
    let mut f = json!({"type": "String", "default": "", "description": description, "choices": [], "widget": "BS3Text"});
    if let (Value::Object(base), Value::Object(e)) = (&mut f, extra) {
        base.extend(e);
    }
    f
}

/// The template view.
pub fn views(config: &app_core::Config) -> Vec<ModelView> {
    let mut v = ModelView::new(
        ids::JOB_TEMPLATE,
        "Job_Template_ModelView_Api",
        "job_template",
        "任务模板",
    );
    v.page_size = 1000;
    v.base_permissions = DECLARED_PERMISSIONS.to_vec();
    v.base_order = Some(("id", "desc"));
    v.order_columns = cols(&["id"]);
    v.list_columns = cols(&[
        "project",
        "name",
        "version",
        "describe",
        "images",
        "workdir",
        "entrypoint",
        "args",
        "demo",
        "env",
        "host_aliases",
        "privileged",
        "accounts",
        "created_by",
        "changed_by",
        "created_on",
        "changed_on",
        "expand",
    ]);
    v.show_columns = cols(&[
        "project",
        "name",
        "version",
        "describe",
        "images",
        "workdir",
        "entrypoint",
        "args",
        "demo",
        "env",
        "host_aliases",
        "privileged",
        "expand",
    ]);
    v.add_columns = cols(&[
        "project",
        "images",
        "name",
        "version",
        "describe",
        "workdir",
        "entrypoint",
        "volume_mount",
        "args",
        "env",
        "host_aliases",
        "privileged",
        "accounts",
        "expand",
    ]);
    v.edit_columns = v.add_columns.clone();
    v.search_columns = cols(&[
        "project",
        "images",
        "created_by",
        "changed_by",
        "created_on",
        "changed_on",
        "name",
        "version",
        "host_aliases",
        "describe",
        "workdir",
        "entrypoint",
        "args",
        "env",
        "volume_mount",
        "privileged",
        "accounts",
        "demo",
        "expand",
    ]);
    v.labels = vec![("project", "功能分类")];
    v.descriptions = vec![("job_args_definition", "使用job模板参数的标准填写方式")];
    v.cols_width = json!({
        "name": {"type": "ellip2", "width": 400}, "version": {"type": "ellip2", "width": 100}, "host_aliases": {"type": "ellip2", "width": 100},
        "describe": {"type": "ellip2", "width": 100}, "workdir": {"type": "ellip2", "width": 400}, "entrypoint": {"type": "ellip2", "width": 500},
        "args": {"type": "ellip2", "width": 100}, "env": {"type": "ellip2", "width": 100}, "accounts": {"type": "ellip2", "width": 100},
        "demo": {"type": "ellip2", "width": 100}, "expand": {"type": "ellip2", "width": 500},
        // the original's dict is shared with its fab view, which adds these
        "name_title": {"type": "ellip2", "width": 300}, "modified": {"type": "ellip2", "width": 200},
        "creator": {"type": "ellip2", "width": 100}, "images": {"type": "ellip2", "width": 100},
        "privileged": {"type": "ellip2", "width": 100}, "created_by": {"type": "ellip2", "width": 100},
        "changed_by": {"type": "ellip2", "width": 100}, "created_on": {"type": "ellip2", "width": 100},
        "changed_on": {"type": "ellip2", "width": 100},
    });
    v.fields.insert(
        "name",
        field("英文名(小写字母、数字、- 组成)，最长50个字符", json!({"unique": true, "validators": [{"type": "Regexp", "regex": "^[a-z][a-z0-9\\-]*[a-z0-9]$"}, {"type": "DataRequired"}, {"type": "Length", "min": 1, "max": 54}]})),
    );
    v.fields.insert(
        "version",
        json!({"type": "Select", "description": "job模板的版本，release版本的模板才能被所有用户看到", "choices": [["Alpha", "Alpha"], ["Release", "Release"]],
               "widget": "Select2", "validators": [{"type": "Length", "min": null, "max": 7}, {"type": "DataRequired"}, {"type": "OneOf"}]}),
    );
    v.fields.insert(
        "describe",
        field(
            "模板的描述将直接显示在pipeline编排界面",
            json!({"validators": [{"type": "DataRequired"}]}),
        ),
    );
    v.fields.insert(
        "workdir",
        field(
            "工作目录，不填写将直接使用镜像默认的工作目录",
            json!({"validators": [{"type": "Regexp", "regex": "^[\u{0}-\u{7f}]*$"}]}),
        ),
    );
    v.fields.insert(
        "entrypoint",
        field(
            "镜像的入口命令，直接写成单行字符串，例如python xx.py，无需添加[]",
            json!({"validators": [{"type": "DataRequired"}, {"type": "Regexp", "regex": "^[\u{0}-\u{7f}]*$"}]}),
        ),
    );
    v.fields.insert(
        "volume_mount",
        field(
            "使用该模板的task，会在添加时，自动添加该挂载。格式示例:<br>$pvc_name1(pvc):/$container_path1,$hostpath1(hostpath):/$container_path2<br>注意pvc会自动挂载对应目录下的个人username子目录",
            json!({"validators": [{"type": "Regexp", "regex": "^[\u{0}-\u{7f}]*$"}]}),
        ),
    );
    let args_default = app_core::json_text::pretty4(
        &json!({"参数分组1": {"--attr1": {"type": "str", "label": "参数1", "default": "value1", "describe": "这里是这个参数的描述和备注"}}}),
    );
    v.fields.insert(
        "args",
        field(
            "json格式，此类task使用时需要填写的参数",
            json!({"default": args_default, "widget": "BS3TextArea", "ui-type": "json", "style": {"rows": 10},
                   "validators": [{"type": "DataRequired"}], "tips": ARGS_TIPS}),
        ),
    );
    v.fields.insert("env", field("使用模板的task自动添加的环境变量，支持模板变量。<br>书写格式:每行一个环境变量env_key=env_value", json!({"widget": "BS3TextArea", "style": {"rows": 3}, "validators": []})));
    v.fields.insert(
        "host_aliases",
        field(
            "添加到容器内的host映射。<br>书写格式:每行一个dns解析记录，ip host1 host2，<br>示例：1.1.1.1 example1.oa.com example2.oa.com",
            json!({"widget": "BS3TextArea", "style": {"rows": 3}, "validators": [{"type": "Regexp", "regex": "^[\u{0}-\u{7f}]*$"}]}),
        ),
    );
    v.fields.insert(
        "privileged",
        json!({"type": "Boolean", "description": "是否启动超级权限", "default": false, "validators": []}),
    );
    v.fields.insert(
        "accounts",
        field(
            "k8s的ServiceAccount，在此类任务运行时会自动挂载此账号，多用于任务操作k8s pod时使用",
            json!({"validators": [{"type": "Regexp", "regex": "^[a-z][a-z0-9\\-]*[a-z0-9]$"}, {"type": "Length", "min": 0, "max": 54}]}),
        ),
    );
    v.fields.insert("demo", field("填写demo", json!({})));
    v.fields.insert(
        "expand",
        field(
            "json格式的扩展字段，支持<br> \"index\":\"$模板展示顺序号\"，<br>\"help_url\":\"$帮助文档地址\"，<br>\"HostNetwork\":true 启动主机端口监听",
            json!({"default": "{\n    \"index\": 0,\n    \"help_url\": \"https://github.com/tencentmusic/cube-studio/wiki\"\n}", "widget": "BS3TextArea", "ui-type": "json", "style": {"rows": 3},
                   "validators": [{"type": "Length", "min": null, "max": 65536}]}),
        ),
    );
    v.rel_choices.insert("project", |_| {
        SqlFrag::new("t.`type` = 'job-template'", vec![])
    });
    v.actions = vec![ActionDef {
        name: "copy",
        text: "复制",
        confirmation: "复制所选记录?",
        icon: "fa-copy",
        multiple: true,
        single: false,
        run: copy_template,
        effects: None,
    }];
    v.hooks = Arc::new(JobTemplateHooks {
        git_url: config.git_url.clone(),
    });
    v.access = AccessRules {
        add: Access::AdminRow,
        ..AccessRules::rows(Access::AdminRow)
    };

    // The original's second API on the same model and base (`Job_Template_fab_ModelView_Api`),
    // the one its menu opens: the same declaration with a shorter list and a longer show.
    let mut fab = v.clone();
    fab.id = ids::JOB_TEMPLATE_FAB;
    fab.api_name = "Job_Template_fab_ModelView_Api";
    fab.list_columns = cols(&["project", "name", "version", "creator", "modified"]);
    fab.show_columns = v.add_columns.clone();
    fab.properties = vec![CREATOR, MODIFIED];
    vec![v, fab]
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIT: &str = "https://github.com/tencentmusic/cube-studio/tree/master/";

    fn expand_of(row: Row) -> Option<String> {
        let mut row = row;
        list_expand(GIT, &mut row);
        row.get("expand").and_then(Value::as_str).map(String::from)
    }

    #[test]
    fn list_rows_get_an_absolute_help_url() {
        // the fab list does not select expand: the original answers GIT_URL
        assert_eq!(
            expand_of(Row::new()).as_deref(),
            Some(r#"{"help_url": "https://github.com/tencentmusic/cube-studio/tree/master"}"#)
        );
        // a relative help_url is prefixed; the rest kept, written as Python writes it
        let mut row = Row::new();
        row.insert(
            "expand".into(),
            json!("{\n    \"index\": 3,\n    \"help_url\": \"/job-template/x\",\n    \"名\": \"值\"\n}"),
        );
        assert_eq!(
            expand_of(row).as_deref(),
            Some(
                r#"{"index": 3, "help_url": "https://github.com/tencentmusic/cube-studio/tree/master/job-template/x", "\u540d": "\u503c"}"#
            )
        );
        // an http URL leaves the stored text as it is
        let stored = "{\n    \"help_url\": \"https://example.com/doc\"\n}";
        let mut row = Row::new();
        row.insert("expand".into(), json!(stored));
        assert_eq!(expand_of(row).as_deref(), Some(stored));
    }
}
